"""Customers' email replies as this installation receives them: casework's own SMTP listener
(`adapters.smtp_in`) on CASEWORK_INBOUND_SMTP_HOST:PORT, deciding through `intake.inbound_mail`
over the process's gateway to the cases and its database, counting each outcome in the metric
`casework_inbound_mail` (by `outcome`)."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Engine
from temporalio.runtime import Runtime

from adapters.attachment_store import AttachmentStore
from adapters.directory_store import DirectoryStore
from adapters.listeners import CannotListen, Listener
from adapters.mail_reader import MailLimits
from adapters.reply_addresses import ReplyAddresses
from adapters.secrets import verification_key
from adapters.settings import Settings
from adapters.smtp_in import InboundListener, ListenerConfig
from intake.inbound_mail import InboundMail, ReplyGateway
from support.inbound_mail import reply_key


def inbound_mail(
    settings: Settings, cases: ReplyGateway, engine: Engine, runtime: Runtime | None = None
) -> InboundMail:
    """The routing of the replies, with the limits of `settings`; outcomes counted in `runtime`'s
    metrics when given."""
    limits = MailLimits(
        max_attachment_bytes=settings.inbound_max_attachment_bytes,
        max_attachments=settings.inbound_max_attachments,
    )
    count: Callable[[str], None] | None = None
    if runtime is not None:
        counter = runtime.metric_meter.create_counter(
            "casework_inbound_mail", "mails received for case reply addresses, by outcome"
        )

        def count_outcome(outcome: str) -> None:
            counter.add(1, {"outcome": outcome})

        count = count_outcome
    store, directory = AttachmentStore(engine), DirectoryStore(engine)
    key = reply_key(verification_key(settings))  # the same as the deliveries' (bootstrap.worker_runtime)
    replies = ReplyAddresses(engine)  # the tokens every delivery worker records, in the shared database
    routing = InboundMail(cases, directory, store, settings.reply_to_domain, limits, key, replies)
    if count is not None:
        routing.count = count
    return routing


async def start_inbound_listener(
    settings: Settings,
    cases: ReplyGateway,
    engine: Engine,
    runtime: Runtime | None = None,
    port: int | None = None,
) -> InboundListener | None:
    """The listener, started on the running loop; None when it is off (CASEWORK_INBOUND_SMTP_PORT=0).
    A port that cannot be bound (another worker on this machine has it) stops the start with one
    line naming CASEWORK_INBOUND_SMTP_PORT (`CannotListen`, exit status 2): every acknowledgement
    tells the customer to reply, so a worker must not run with nothing reading the replies.
    `port` overrides the settings' (tests: 0 is any free port)."""
    chosen = settings.inbound_smtp_port if port is None else port
    if chosen is None:
        return None
    config = ListenerConfig(
        host=settings.inbound_smtp_host, port=chosen, max_message_bytes=settings.inbound_max_message_bytes
    )
    try:
        return await InboundListener(inbound_mail(settings, cases, engine, runtime), config).start()
    except OSError as error:
        # another worker on this machine may have it; 0 turns the listener off (no replies read)
        listener = Listener("CASEWORK_INBOUND_SMTP_PORT", "the inbound mail listener", config.host, chosen)
        raise CannotListen([listener.refusal(error) + " (0: read no replies)"]) from None

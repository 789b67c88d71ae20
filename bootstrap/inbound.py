"""Customers' email replies as this installation receives them: casework's own SMTP listener
(`adapters.smtp_in`) on CASEWORK_INBOUND_SMTP_HOST:PORT, deciding through `intake.inbound_mail`
over the process's gateway to the cases and its database, the bodies parsed in child processes
(`adapters.mail_reader_process`), counting each outcome in the metric `casework_inbound_mail`
(by `outcome`)."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Engine
from temporalio.runtime import Runtime

from adapters.bounce_addresses import BounceAddresses
from adapters.codec import key_ring_from_env
from adapters.mail_reader_process import MailReaders
from adapters.settings import Settings
from adapters.smtp_in import InboundListener, ListenerConfig
from intake.bounces import Bounces, WithBounces
from intake.inbound_mail import InboundMail, MailReader, ReplyGateway, inbound_mail_for, mail_limits

READERS = 2  # child processes reading mail: one hostile mail leaves the other for everyone else


def inbound_mail(
    settings: Settings,
    cases: ReplyGateway,
    engine: Engine,
    runtime: Runtime | None = None,
    reader: MailReader | None = None,
) -> InboundMail:
    """The routing of the replies, with the limits of `settings`; outcomes counted in `runtime`'s
    metrics when given. `reader`: child processes (`MailReaders`) unless given."""
    if reader is None:
        reader = MailReaders(mail_limits(settings), settings.inbound_read_cpu_seconds, READERS)
    routing = inbound_mail_for(settings, cases, engine, reader, key_ring_from_env())
    if runtime is not None:
        counter = runtime.metric_meter.create_counter(
            "casework_inbound_mail", "mails received for case reply addresses, by outcome"
        )

        def count_outcome(outcome: str) -> None:
            counter.add(1, {"outcome": outcome})

        count: Callable[[str], None] = count_outcome
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
    line (SystemExit): every acknowledgement tells the customer to reply, so a worker must not run
    with nothing reading the replies. `port` overrides the settings' (tests: 0 is any free port).
    Stopping the listener stops its mail readers. Mail to a notification's envelope sender (a
    delivery report) is decided by `intake.bounces`, every other by `intake.inbound_mail`."""
    chosen = settings.inbound_smtp_port if port is None else port
    if chosen is None:
        return None
    config = ListenerConfig(
        host=settings.inbound_smtp_host, port=chosen, max_message_bytes=settings.inbound_max_message_bytes
    )
    reader = MailReaders(mail_limits(settings), settings.inbound_read_cpu_seconds, READERS)
    replies = inbound_mail(settings, cases, engine, runtime, reader)
    bounces = Bounces(cases, BounceAddresses(engine), reader, settings.reply_to_domain)
    bounces.count = replies.count  # the same metric, outcomes of their own ("bounced", ...)
    routing = WithBounces(replies, bounces)
    try:
        return await InboundListener(routing, config).start()
    except OSError as error:
        await routing.close()
        raise SystemExit(
            f"the inbound mail listener cannot listen on {settings.inbound_smtp_host}:{chosen} "
            f"({error.strerror or error}): free the port, set CASEWORK_INBOUND_SMTP_PORT to another "
            "one, or to 0 to read no replies (another worker on this machine may have it)"
        ) from None

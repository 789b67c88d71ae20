"""Customers' email replies as this installation receives them: casework's own SMTP listener
(`adapters.smtp_in`) on CASEWORK_INBOUND_SMTP_HOST:PORT, deciding through `interfaces.mail_in.routing`
over the process's gateway to the cases and its database, the bodies parsed in child processes
(`adapters.mail_reader_process`), counting each outcome in the metric `casework_inbound_mail`
(by `outcome`)."""

from __future__ import annotations

import socket
from collections.abc import Callable

from sqlalchemy import Engine
from temporalio.runtime import Runtime

from adapters.attachment_store import AttachmentStore
from adapters.bounce_addresses import BounceAddresses
from adapters.codec import KeyRing, key_ring_from_env
from adapters.directory_store import DirectoryStore
from adapters.listeners import CannotListen, Listener
from adapters.mail_quarantine import MailQuarantine
from adapters.mail_reader_process import InlineReader, MailReaders
from adapters.reply_addresses import ReplyAddresses
from adapters.secrets import verification_key
from adapters.settings import Settings
from adapters.smtp_in import InboundListener, ListenerConfig
from interfaces.mail_in.bounces import Bounces, WithBounces
from interfaces.mail_in.routing import InboundMail, MailReader, ReplyGateway, mail_limits
from interfaces.mail_in.staff_mail import StaffGateway, StaffReplies
from support.messaging.reply_addresses import reply_key

READERS = 2  # child processes reading mail: one hostile mail leaves the other for everyone else


def inbound_mail_for(
    settings: Settings, cases: ReplyGateway, engine: Engine, reader: MailReader, keys: KeyRing | None
) -> InboundMail:
    """The routing over this database with the limits of `settings` (the listener's, and the CLI's
    for `mail release`): the reply key is the deliveries' (bootstrap.worker_runtime), the tokens
    are the ones every delivery worker records in the shared database; `keys` seal the files and
    held mail it stores (None: in clear)."""
    key = reply_key(verification_key(settings))
    store = AttachmentStore(engine, keys)
    routing = InboundMail(
        cases,
        DirectoryStore(engine),
        store,
        settings.reply_to_domain,
        mail_limits(settings),
        key,
        ReplyAddresses(engine),
        reader,
        MailQuarantine(engine, keys),
    )
    if isinstance(
        cases, StaffGateway
    ):  # engineers' replies to their case mail (interfaces.mail_in.staff_mail)
        routing.staff_replies = StaffReplies(cases, settings.staff_file, key, store)
    return routing


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
    count: Callable[[str], None] | None = None,
    sock: socket.socket | None = None,
) -> InboundListener | None:
    """The listener, started on the running loop; None when it is off (CASEWORK_INBOUND_SMTP_PORT=0).
    A port that cannot be bound (another worker on this machine has it) stops the start with one
    line naming CASEWORK_INBOUND_SMTP_PORT (`CannotListen`, exit status 2): every acknowledgement
    tells the customer to reply, so a worker must not run with nothing reading the replies.
    `port` overrides the settings' (tests: 0 is any free port). Stopping the listener stops its
    mail readers. Mail to a notification's envelope sender (a delivery report) is decided by
    `interfaces.mail_in.bounces`, every other by `interfaces.mail_in.routing`. `count` is told each outcome
    (the
    listener process reports them to the worker, `bootstrap.inbound_process`); `sock`: the port,
    bound and listening already."""
    chosen = settings.inbound_smtp_port if port is None else port
    if chosen is None:
        return None
    config = ListenerConfig(
        host=settings.inbound_smtp_host,
        port=chosen,
        max_message_bytes=settings.inbound_max_message_bytes,
        sock=sock,
    )
    reader = MailReaders(mail_limits(settings), settings.inbound_read_cpu_seconds, READERS)
    replies = inbound_mail(settings, cases, engine, runtime, reader)
    if count is not None:
        replies.count = count
    bounces = Bounces(cases, BounceAddresses(engine), reader, settings.reply_to_domain)
    bounces.count = replies.count  # the same metric, outcomes of their own ("bounced", ...)
    routing = WithBounces(replies, bounces)
    try:
        return await InboundListener(routing, config).start()
    except OSError as error:
        await routing.close()
        # another worker on this machine may have it; 0 turns the listener off (no replies read)
        listener = Listener("CASEWORK_INBOUND_SMTP_PORT", "the inbound mail listener", config.host, chosen)
        raise CannotListen([listener.refusal(error) + " (0: read no replies)"]) from None


def release_routing(settings: Settings, engine: Engine) -> Callable[[ReplyGateway], InboundMail]:
    """The routing `starter.py mail release` hands a held mail to: this process serves nothing
    else, so it reads the mail in line (`InlineReader`)."""

    def routing(cases: ReplyGateway) -> InboundMail:
        return inbound_mail_for(
            settings, cases, engine, InlineReader(mail_limits(settings)), key_ring_from_env()
        )

    return routing

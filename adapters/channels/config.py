"""The delivery settings of one worker, as the senders and the activity read them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from adapters.smtp_out import SmtpServer
from support.messaging.routing import Addresses, Route


@dataclass(frozen=True)
class DeliveryConfig:
    smtp_host: str
    smtp_port: int
    smtp_security: Literal["none", "starttls", "tls"] = "none"
    smtp_username: str | None = None
    smtp_password: str | None = None
    mail_from: str = "casework support <support@casework.example>"
    reply_to_domain: str = "support.casework.example"
    # The key of the case addresses' tokens (support.messaging.reply_addresses.reply_key): the listener's too,
    # which checks the MACs of the addresses sent before the tokens with it.
    reply_key: bytes = field(default=b"", repr=False)
    support_queue_email: str = "support-queue@casework.example"
    duty_manager_email: str = "duty-manager@casework.example"
    staff: Mapping[str, str] = field(default_factory=dict)  # engineer name -> email (the staff list)
    staff_languages: Mapping[str, str] = field(default_factory=dict)  # engineer name -> language, if given
    staff_display_names: Mapping[str, str] = field(default_factory=dict)  # what customers read, if given
    # channel -> destination -> target (a URL: it is the channel's credential, never in repr()),
    # e.g. {"webhook": {"support_queue": url}, "sms": {"phone": url}}; a destination no channel
    # reaches gets email (support.messaging.routing.routes).
    channels: Mapping[str, Mapping[str, str]] = field(default_factory=dict, repr=False)
    webhook_secret: str = field(default="", repr=False)
    timeout_seconds: float = 15.0
    smtp_connections: int = 8  # at most this many open to the SMTP server, reused between emails
    smtp_helo_name: str = ""  # the EHLO name; '' for the machine's fully qualified name
    # The survey mail's one-click answer link (support.messaging.survey_links): the console's public address
    # and the links' key; no address, no link (the mail asks for a reply, as before).
    public_url: str = ""
    survey_key: bytes = field(default=b"", repr=False)

    def __post_init__(self) -> None:
        taken: dict[str, str] = {}
        for channel, targets in self.channels.items():
            for destination in targets:
                if destination in taken:  # one route each: which one would win is nobody's guess
                    raise ValueError(f"{destination} is reached by both {taken[destination]} and {channel}")
                taken[destination] = channel

    @property
    def addresses(self) -> Addresses:
        reach = {
            destination: Route(channel, target)
            for channel, targets in self.channels.items()
            for destination, target in targets.items()
        }
        return Addresses(
            support_queue_email=self.support_queue_email,
            duty_manager_email=self.duty_manager_email,
            staff=self.staff,
            reach=reach,
        )

    @property
    def smtp_server(self) -> SmtpServer:
        return SmtpServer(
            host=self.smtp_host,
            port=self.smtp_port,
            security=self.smtp_security,
            username=self.smtp_username,
            password=self.smtp_password,
            timeout_seconds=self.timeout_seconds,
            helo_name=self.smtp_helo_name,
        )

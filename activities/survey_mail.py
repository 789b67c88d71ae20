"""The survey mail's signed one-click link (support.messaging.survey_links), added where the mail is made:
the key stays with the delivery worker, never in a case's history. The link itself is a credential
for one answer: it goes into the mail only, never into a log line or the delivery ledger."""

from __future__ import annotations

from typing import Protocol

from support.messaging.notifications import Notification
from support.messaging.survey_links import link_for

SURVEY_TEMPLATES = frozenset({"survey", "survey_reminder"})


class LinkConfig(Protocol):
    @property
    def public_url(self) -> str: ...

    @property
    def survey_key(self) -> bytes: ...


def with_survey_link(n: Notification, config: LinkConfig) -> Notification:
    """`n` with `survey_link` among its facts when it is a survey mail to the customer's side that
    names its round (cases closed before the link existed do not: their mail asks for a reply)."""
    sent, expires = n.times.get("survey_sent"), n.times.get("survey_expires")
    if (
        n.template not in SURVEY_TEMPLATES
        or not n.audience.customer_side
        or not (config.public_url and config.survey_key and n.to_email)
        or sent is None
        or expires is None
    ):
        return n
    assert n.to_email is not None
    link = link_for(config.public_url, n.case_id, n.to_email, sent, expires, config.survey_key)
    return n.model_copy(update={"facts": n.facts | {"survey_link": link}})

"""A customer's email reply to a case (already checked by the inbound mail: the sender is a
contact of the tenant, not an auto-reply, quoted history stripped; see `support.case.actions`).

Exactly once: the case remembers the message ids of its recent replies and refuses a repeat with
a reason that starts with `ALREADY_RECEIVED`, which the inbound side takes as "already landed".
A reply to an open case answers the engineer's outstanding requests (the update clock resumes),
reaches the assignee (or the support queue) in full with its attachments, and is listed on the
case; to a resolved case within the reopen window it reopens the case (`[resolution]
reopen_on_reply`, patch `reopen-by-reply`; cases from before list it as a message only). While
the satisfaction survey waits, a reply that starts with a score 1-5 is the survey's answer; any
other reply to a closed case is refused here, and the inbound side opens a new case that follows
it (`follow_up_request`).
"""

from __future__ import annotations

import re
from datetime import datetime

from support.case.actions import CustomerReply, SurveyAnswer
from support.case.effects import Decision
from support.case.record import CaseRecord
from support.case.view import CaseView, SurveyOutcome
from support.messaging.routing import recipients
from support.policies.vocabulary import CaseStatus, Channel
from support.rules.customer_requests import answered_by_reply
from support.rules.request import CaseRequest
from support.rules.resolution import reopened, reopens_by_reply, survey_answered
from support.rules.responses import touch
from support.wording.excerpt import excerpt
from support.wording.text_shapes import COMMENT_MAX

ALREADY_RECEIVED = "already received"  # the start of the refusal of a repeated reply
STILL_OPENING = "the case is still being opened"  # in the refusal of a reply to a case not open yet: for now
_SCORE = re.compile(
    r"^\s*([1-5])(?![0-9]|[.,][0-9])\s*(?:/\s*5\b|out of 5\b)?[\s.:;,!)\-\u2013\u2014]*(.*)$", re.DOTALL
)


def survey_score(body: str) -> tuple[int, str] | None:
    """(score, comment) when the body starts with a score 1-5 ("4", "4/5", "5 - great"), else None."""
    match = _SCORE.match(body)
    if match is None:
        return None
    return int(match[1]), match[2].strip()[:COMMENT_MAX]


def _survey_waits(case: CaseRecord) -> bool:
    survey = case.view.survey
    return survey is not None and survey.outcome is SurveyOutcome.PENDING


def reply_refusal(case: CaseRecord, reply: CustomerReply, now: datetime) -> str | None:
    view = case.view
    if reply.message_id in view.reply_ids:
        return f"{ALREADY_RECEIVED}: this message is already on case {view.case_id}"
    if view.status in (CaseStatus.NEW, CaseStatus.AWAITING_VERIFICATION):
        return "cannot take a reply: the case is still being opened; try again in a moment"
    if view.status.is_final and not (_survey_waits(case) and survey_score(reply.body) is not None):
        return f"cannot take a reply: the case is {view.status.value}; please open a new case"
    return None


def _listing(reply: CustomerReply) -> str:
    if not reply.attachments:
        return "-"
    return "\n".join(f"- {a.filename} ({a.content_type}, {a.size} bytes)" for a in reply.attachments)


def received(case: CaseRecord, reply: CustomerReply, now: datetime, decision: Decision) -> None:
    view = case.view
    view.reply_ids.append(reply.message_id)
    scored = survey_score(reply.body) if _survey_waits(case) else None
    if scored is not None:
        view.record(now, "survey_reply", "the customer answered the survey by email", actor="customer")
        score, comment = scored
        survey_answered(case, SurveyAnswer(score=score, comment=comment), now, decision)
        return
    if reopens_by_reply(case, now):
        reopened(case, reply.body, now, decision)
    view.replies_received += 1
    view.attachments += reply.attachments
    answered = answered_by_reply(case, now, reply.body) if view.status.is_open else []
    count = len(reply.attachments)
    attached = f" ({count} attachment{'' if count == 1 else 's'})" if count else ""
    said_by = reply.via.value if reply.via is not None else "email"  # a portal comment says so
    view.record(now, "customer_replied", f"{said_by}: {excerpt(reply.body)}{attached}", actor="customer")
    touch(case, now, None, decision)
    decision.tell(
        recipients(
            case,
            "customer_replied",
            {
                "sender": reply.sender,
                "body": reply.body,
                "attachments": _listing(reply),
                "answered": ", ".join(answered) or "-",
                "status": view.status.value,
            },
            sequence=view.replies_received,
        )
    )
    decision.count("casework_customer_replies", "customer email replies on cases", status=view.status.value)


def follow_up_request(request: CaseRequest, view: CaseView, reply: CustomerReply) -> CaseRequest | None:
    """The new case a reply to a closed case opens (after the reopen window): the same tenant,
    requester, contact and language, the old case's title and last severity (decided afresh under
    today's policy), the reply as its description, none of the old case's files; None when the
    case is not closed (a withdrawn or refused case keeps refusing replies). Its request id comes
    from the reply, so the same mail delivered twice finds the same new case."""
    if view.status is not CaseStatus.CLOSED:
        return None
    return request.model_validate(
        request.model_dump()
        | {
            "request_id": f"re-{reply.message_id[:40]}",
            "severity": view.severity or request.severity,
            "description": reply.body,
            "channel": Channel.WEB,
            "caller_number": None,
            "attachments": [],  # the old case's uploads were its own (and taken by it)
        }
    )

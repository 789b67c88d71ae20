"""Each error a front door answers is said once (application/errors.py): the API's status, code and
headers, the console page's status and key, and the CLI's line and exit code all come from it.
These are the contracts docs/api.md and docs/cli.md promise; the three fronts' handlers only read
them (tests/system/test_api.py, test_console.py and test_cli.py check the handlers themselves)."""

from __future__ import annotations

import pytest

from application.cases import (
    ActionRejected,
    ActionTakenLate,
    CaseNotFound,
    Forbidden,
    InvalidField,
    PolicyInvalid,
    RequestConflict,
    TooManyOpenCases,
    Unavailable,
)
from application.errors import FrontError
from application.limits import RateLimited
from application.verification_gate import VerificationLocked
from interfaces.cli.main import EXIT_INVALID, EXIT_NOT_FOUND, EXIT_REJECTED, EXIT_UNAVAILABLE


@pytest.mark.parametrize(
    ("error", "status", "code", "retry_after", "exit_code", "line"),
    [
        (CaseNotFound("no case 'x'"), 404, "not_found", None, EXIT_NOT_FOUND, "no case 'x'"),
        (ActionRejected("resolved"), 409, "rejected", None, EXIT_REJECTED, "rejected: resolved"),
        (RequestConflict("reused"), 409, "request_id_reused", None, EXIT_REJECTED, "rejected: reused"),
        (Forbidden("a portal key cannot"), 403, "forbidden", None, EXIT_REJECTED, "a portal key cannot"),
        (InvalidField("to", "not on staff"), 422, "invalid_input", None, EXIT_INVALID, "to: not on staff"),
        (TooManyOpenCases("200 open"), 429, "too_many_open_cases", "60", EXIT_REJECTED, "200 open"),
        (VerificationLocked(600), 429, "verification_locked", "600", EXIT_REJECTED, None),
        (RateLimited("slow down", 7.9), 429, "rate_limited", "7", 1, "slow down"),
        (Unavailable("Temporal did not answer"), 503, "unavailable", "5", EXIT_UNAVAILABLE,
         "Temporal did not answer. Is a worker running (`make run`)?"),
        (Unavailable("no worker polls"), 503, "unavailable", "5", EXIT_UNAVAILABLE, "no worker polls"),
        (PolicyInvalid("policy.toml: [sla] a: bad"), 503, "policy_invalid", "5", EXIT_UNAVAILABLE,
         "the policy file is invalid: policy.toml: [sla] a: bad"),
        (ActionTakenLate("taken; its answer is late"), 202, "taken_late", None, EXIT_UNAVAILABLE, None),
    ],
)  # fmt: skip
def test_an_error_carries_what_each_front_answers(
    error: FrontError, status: int, code: str, retry_after: str | None, exit_code: int, line: str | None
) -> None:
    assert (error.status, error.code, error.exit_code) == (status, code, exit_code)
    headers = error.headers()
    assert (headers or {}).get("Retry-After") == retry_after
    if line is not None:
        assert error.line() == line


def test_the_api_names_the_field_and_the_console_does_not_say_a_late_answer_was_a_success() -> None:
    invalid = InvalidField("severity", "not a severity", where="query")
    assert invalid.message() == "the request is not valid; see fields"
    assert invalid.fields() == [{"field": "query.severity", "message": "not a severity"}]
    assert (invalid.page, invalid.detail()) == ("fix_fields", "severity: not a severity")
    late = ActionTakenLate("taken; its answer is late")
    assert (late.status, late.page_status(), late.page) == (202, 503, "unavailable")
    assert Forbidden("a phone key cannot").detail() == "a phone key cannot"  # said on the page
    assert CaseNotFound("no case 'case-x.y'").detail() == ""  # the page's heading alone

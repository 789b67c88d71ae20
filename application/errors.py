"""What can go wrong at a front door, said once: each error knows its HTTP status, its error code
(the API's `{"error": ...}`), its console page and its CLI exit code.

The three fronts each have ONE handler that reads these (the API's JSON problem in `interfaces.api.app`,
the console's page in the reader's language in `interfaces.console.errors`, the CLI's one line and
exit code in `interfaces.cli.main`), so a new error is one class here, not three handlers.
No I/O and no web framework here: the CLI imports it without FastAPI.
"""

from __future__ import annotations

from typing import ClassVar

EXIT_UNEXPECTED = 1
EXIT_INVALID = 2
EXIT_UNAVAILABLE = 3
EXIT_NOT_FOUND = 4
EXIT_REJECTED = 5
EXIT_NONDETERMINISTIC = 6
EXIT_BROKEN_PIPE = 141  # the reader of our output went away (`| head`): 128 + SIGPIPE, as Unix tools

# A 503 is passing (Temporal briefly unreachable, a case recorded and not decided yet): ask again soon.
RETRY_SOON_S = 5


class FrontError(Exception):
    """An error a front door answers with, never a 500: its HTTP `status`, the API's `code`, the
    console page's `page` (a phrase key of templates/console) and the CLI's `exit_code`.
    `retry_after`: seconds a client should wait (the Retry-After header), or None."""

    status: int = 500  # a class's, or one instance's (CliError, the console's BadForm)
    code: ClassVar[str] = "internal_error"
    page: str = "error"
    exit_code: int = EXIT_UNEXPECTED
    retry_after: int | None = None

    def message(self) -> str:
        """The API's `message`: the error's own words."""
        return str(self)

    def fields(self) -> list[dict[str, str]] | None:
        """The API's per-field entries, when the error concerns one."""
        return None

    def detail(self) -> str:
        """What the console's page says under its heading (empty: the heading alone)."""
        return ""

    def page_status(self) -> int:
        """The console page's status (the API's, unless a page cannot say what the API says)."""
        return self.status

    def line(self) -> str:
        """The CLI's one line on stderr."""
        return str(self)

    def headers(self) -> dict[str, str] | None:
        return {"Retry-After": str(self.retry_after)} if self.retry_after is not None else None


class CaseNotFound(FrontError, LookupError):
    """No such case, or not one of the caller's tenants (the same answer: 404)."""

    status, code, page, exit_code = 404, "not_found", "not_found", EXIT_NOT_FOUND


class ActionRejected(FrontError, ValueError):
    """The case refused an agent action; the message is the workflow validator's reason."""

    status, code, exit_code = 409, "rejected", EXIT_REJECTED

    def line(self) -> str:
        return f"rejected: {self}"


class RequestConflict(FrontError, ValueError):
    """The request id was used before, by this tenant, with a different body (Stripe's rule)."""

    status, code, exit_code = 409, "request_id_reused", EXIT_REJECTED

    def line(self) -> str:
        return f"rejected: {self}"


class Forbidden(FrontError, PermissionError):
    """The principal may not do this (its role, or a tenant it does not act for)."""

    status, code, page, exit_code = 403, "forbidden", "forbidden", EXIT_REJECTED

    def detail(self) -> str:
        return str(self)


class InvalidField(FrontError, ValueError):
    """Input that is well-formed but not acceptable, with the field it concerns."""

    status, code, page, exit_code = 422, "invalid_input", "fix_fields", EXIT_INVALID

    def __init__(self, field: str, message: str, where: str = "body") -> None:
        super().__init__(message)
        self.field = field
        self.where = where  # "body" or "query": where the field was given, as the API names it

    def message(self) -> str:
        return "the request is not valid; see fields"

    def fields(self) -> list[dict[str, str]] | None:
        return [{"field": f"{self.where}.{self.field}", "message": str(self)}]

    def detail(self) -> str:
        return f"{self.field}: {self}"

    def line(self) -> str:
        return f"{self.field}: {self}"


class Unavailable(FrontError, RuntimeError):
    """Temporal or the workers did not answer in time."""

    status, code, page, exit_code = 503, "unavailable", "unavailable", EXIT_UNAVAILABLE
    retry_after: int | None = RETRY_SOON_S

    def line(self) -> str:
        """The service's own reason; it is asked whether a worker runs only when the reason says
        nothing of workers itself."""
        text = str(self).strip()
        if "worker" in text:
            return text
        return f"{text.rstrip('.')}. Is a worker running (`make run`)?"


class PolicyInvalid(Unavailable):
    """The policy file cannot be used (its own error: file, table, field): new cases wait,
    recorded, and are decided once it is fixed. 503 `policy_invalid`."""

    code = "policy_invalid"

    def __init__(self, problem: str, detail: str = "") -> None:
        self.problem = problem
        super().__init__(detail or f"the policy file is invalid: {problem}")

    def line(self) -> str:
        return str(self).strip()


class ActionTakenLate(Unavailable):
    """The case took the action, and its answer is late (its message still being kept, the
    database slow): it was carried out; sending it again would carry it out twice. 202
    `taken_late` (the API); read the case for its outcome."""

    status, code = 202, "taken_late"
    retry_after = None

    def page_status(self) -> int:
        return 503  # the console's page says the service did not answer in time


class TooManyOpenCases(FrontError, RuntimeError):
    """The tenant has as many open cases as it may."""

    status, code, exit_code = 429, "too_many_open_cases", EXIT_REJECTED
    retry_after = 60


class RateLimited(FrontError):
    """Too many requests; `retry_after` seconds until the next one may go through."""

    status, code = 429, "rate_limited"
    retry_after: int

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = int(retry_after)

    def detail(self) -> str:
        return str(self)


class TooManyFiles(FrontError, ValueError):
    """The case holds as many files as it may: 413."""

    status, code = 413, "too_large"


class CliError(FrontError):
    """A command's own refusal: one line and its exit code."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.exit_code = code

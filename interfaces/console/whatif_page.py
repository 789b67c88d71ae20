"""The console's policy what-if (operators): the form's fields read from a bounded body (URL-encoded,
or multipart when a policy file is uploaded), checked as the API checks them (the same field-level
errors for the policy, `interfaces.api.whatif.checked_policy`; the range as the reports page reads
it), and the what-if's figures laid out for the page. Nothing is run when a field is wrong."""

from __future__ import annotations

import email.parser
import email.policy
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qs

from fastapi.exceptions import RequestValidationError

from application.whatif import ProposedPolicy
from interfaces.api.whatif import checked_policy
from interfaces.console.report_range import report_range
from support.reporting.reports import Group, ReportWindow
from support.reporting.whatif import WhatIfReport
from support.wording.text_shapes import TENANT_ID_PATTERN

MAX_WHATIF_BYTES = 512 * 1024  # a policy file is a few KiB; the form is refused past this
DEFAULT_DAYS = 28
FIELDS = ("csrf", "policy", "from", "to", "tenant")
TENANT_ID = re.compile(TENANT_ID_PATTERN)


class FormUnreadable(ValueError):
    """A body that is no form this page sends (not URL-encoded nor multipart, or not UTF-8)."""


def _multipart(content_type: str, body: bytes) -> dict[str, str]:
    """The text of each part by its name; a file part (the uploaded policy) as `policy_file`."""
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode()
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
    if not message.is_multipart():
        raise FormUnreadable("not a multipart form")
    found: dict[str, str] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            continue
        payload = part.get_payload(decode=True)
        data = payload if isinstance(payload, bytes) else b""
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise FormUnreadable(f"{name}: not UTF-8 text") from None
        found["policy_file" if part.get_filename() is not None and name == "policy_file" else name] = text
    return found


def read_fields(content_type: str, body: bytes) -> dict[str, str]:
    """The posted fields. An uploaded file, when not empty, is the policy (over the pasted text)."""
    if content_type.startswith("multipart/form-data"):
        fields = _multipart(content_type, body)
    else:
        try:
            parsed = parse_qs(body.decode("utf-8"), keep_blank_values=True, max_num_fields=20)
        except (UnicodeDecodeError, ValueError):
            raise FormUnreadable("not a form") from None
        fields = {name: values[0] for name, values in parsed.items() if values}
    uploaded = fields.pop("policy_file", "")
    if uploaded.strip():
        fields["policy"] = uploaded
    return fields


@dataclass
class WhatIfForm:
    """What the operator asked, and what is wrong with it (field -> messages)."""

    policy: str
    first: str
    last: str
    tenant: str
    window: ReportWindow | None = None
    proposed: ProposedPolicy | None = None
    problems: dict[str, list[str]] = field(default_factory=dict)


def checked_form(fields: dict[str, str], zone: str, now: datetime, words: dict[str, str]) -> WhatIfForm:
    """Every field checked, each problem on its field: the policy's as the API words them (its
    table and field named), the range's and the tenant's in the reader's words."""
    form = WhatIfForm(
        policy=fields.get("policy", ""),
        first=fields.get("from", "").strip(),
        last=fields.get("to", "").strip(),
        tenant=fields.get("tenant", "").strip(),
    )
    chosen = report_range(form.first or None, form.last or None, zone, now)
    form.first, form.last = chosen.first.isoformat(), chosen.last.isoformat()
    for name, key in chosen.problems.items():
        form.problems.setdefault(name, []).append(words[key])
    form.window = chosen.window
    if form.tenant and not TENANT_ID.match(form.tenant):
        form.problems.setdefault("tenant", []).append(words["not_a_tenant"])
    if not form.policy.strip():
        form.problems.setdefault("policy", []).append(words["policy_missing"])
        return form
    try:
        form.proposed = checked_policy(form.policy)
    except RequestValidationError as error:
        form.problems["policy"] = [policy_problem(e) for e in error.errors()]
    return form


def policy_problem(error: dict[str, Any]) -> str:
    """One of the API's 422 entries for the policy, as the form shows it: where, then what."""
    where = ".".join(str(part) for part in error.get("loc", ())[1:])
    return f"{where}: {error['msg']}" if where else str(error["msg"])


def default_range(zone: str, now: datetime) -> tuple[str, str]:
    chosen = report_range(None, None, zone, now)
    return (chosen.last - timedelta(days=DEFAULT_DAYS - 1)).isoformat(), chosen.last.isoformat()


@dataclass(frozen=True)
class Row:
    """One line of the side-by-side table: a group's figures in force and proposed."""

    dimension: str
    key: str
    in_force: Group
    proposed: Group

    @property
    def changed(self) -> bool:
        return self.in_force != self.proposed


def rows(report: WhatIfReport) -> list[Row]:
    return [Row(p.dimension, p.key, p.in_force, p.proposed) for p in report.groups]

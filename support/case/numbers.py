"""Case numbers people can say on the phone: `CW-10482` (pure).

Each case gets a serial from the installation's database (`adapters.case_numbers`, one row per
case id, so the same opening sent again gets the same number); this module only says how a serial
is written and read back. A case opened before numbers has none: its id is what people see.
"""

from __future__ import annotations

import re

from support.wording.text_shapes import REQUEST_ID_PATTERN, TENANT_ID_PATTERN

PREFIX = "CW-"
BASE = 10_000  # the first case is CW-10001: five digits from the start, none of them a leading 0
NUMBER_PATTERN = r"^[Cc][Ww]-?([1-9][0-9]{4,11})$"  # "CW-10482", "cw10482" as people type it
_NUMBER = re.compile(NUMBER_PATTERN)
# A case's id (case-contoso.r-1; the workflow id), and what a route or a command takes for a case:
# its id or its number, which the gateway resolves (`application.cases.Cases.case_id_of`). The one
# definition the API, the console, the CLI and the reply addresses use.
CASE_ID_PATTERN = "^case-(" + TENANT_ID_PATTERN.strip("^$") + r"\.)?" + REQUEST_ID_PATTERN.strip("^$") + "$"
CASE_REF_PATTERN = f"^(?:{CASE_ID_PATTERN.strip('^$')}|{NUMBER_PATTERN.strip('^$')})$"
CASE_ID = re.compile(CASE_ID_PATTERN)
CASE_REF = re.compile(CASE_REF_PATTERN)


def case_number(serial: int) -> str:
    """The number of the case with database serial `serial` (1, 2, ...)."""
    return f"{PREFIX}{BASE + serial}"


def serial_of(text: str) -> int | None:
    """The serial a case number stands for; None when `text` is not a case number (a case id)."""
    match = _NUMBER.match(text.strip())
    if match is None:
        return None
    serial = int(match[1]) - BASE
    return serial if serial >= 1 else None


def case_ref(case_id: str, number: str | None) -> str:
    """What people see for a case: its number, or its id when it was opened before numbers."""
    return number or case_id

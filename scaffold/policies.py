"""A fast policy for benchmarks: the real policy.toml with targets of seconds on 24x7 calendars."""

from __future__ import annotations

import re
from pathlib import Path

from adapters.settings import PROJECT_ROOT


def fast_policy(
    directory: Path,
    first_response: str = "30s",
    report_late_after: str = "1m",
    delivery_max_interval: str = "10m",
) -> Path:
    """The fast policy file in `directory`; a test or benchmark sets the few values it is about."""
    text = (PROJECT_ROOT / "policy.toml").read_text(encoding="utf-8")
    text = re.sub(r'first_response = "[^"]+"', f'first_response = "{first_response}"', text)
    text = re.sub(r'report_late_after = "[^"]+"', f'report_late_after = "{report_late_after}"', text)
    text = re.sub(r'max_interval = "[^"]+"', f'max_interval = "{delivery_max_interval}"', text)
    text = re.sub(r'customer_update = "[^"]+"', 'customer_update = "1h"', text)
    text = re.sub(r'idle_follow_up = "[^"]+"', 'idle_follow_up = "1h"', text)
    text = re.sub(r'cooperation_due = "[^"]+"', 'cooperation_due = "1h"', text)
    text = re.sub(r"obligations = \[[^\]]*\]\n", "obligations = []\n", text)
    text = re.sub(r'calendar = "(product|billing|presales)"', 'calendar = "always"', text)
    text = text.replace('reopen_window = "7d"', 'reopen_window = "1s"').replace('wait = "7d"', 'wait = "3s"')
    text = text.replace('reminder_after = "3d"', 'reminder_after = "2s"')
    path = directory / "fast-policy.toml"
    path.write_text(text, encoding="utf-8")
    return path

"""Leave a process without CPython finalization.

The Temporal SDK's Rust bridge keeps runtime threads that can crash interpreter teardown of a
short-lived process (SIGSEGV / "PyGILState_Release ... finalizing", temporalio/sdk-python#300)
after all work is done and printed. Entry points flush and exit through here so a command that
succeeded never reports a crash.
"""

from __future__ import annotations

import contextlib
import os
import sys
from typing import NoReturn


def exit_now(code: int) -> NoReturn:
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    os._exit(code)

"""What one worker process runs (`worker.py --only`): both parts by default. Apart from
`worker_runtime` so that `worker.py` parses its arguments and checks its ports before the worker's
heavy imports load."""

from __future__ import annotations

from typing import Literal

Part = Literal["cases", "deliveries"]
PARTS: tuple[Part, ...] = ("cases", "deliveries")

"""The environment of a real `worker.py` process pointed at a given Temporal server."""

from __future__ import annotations

import os
from pathlib import Path

from service.mail_sink import MailSink
from service.settings import Settings


def worker_env(
    settings: Settings, policy: Path, temporal_address: str, sink: MailSink, tmp: Path
) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("TEMPORAL_", "SMTP_", "CASEWORK_", "METRICS_"))
    }
    return env | {
        "TEMPORAL_ADDRESS": temporal_address,
        "TEMPORAL_CONFIG_FILE": str(tmp / "none.toml"),
        "CASEWORK_VAR": str(settings.var_dir),
        "CASEWORK_POLICY": str(policy),
        "CASEWORK_TASK_QUEUE": settings.task_queue,
        "CASEWORK_HEALTH_PORT": "0",
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(sink.port),
        "SMTP_SECURITY": "none",
    }

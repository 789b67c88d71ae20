"""structlog for casework and for the stdlib loggers the SDK uses (workflow.logger, activity.logger).

JSON lines when stderr is not a terminal, readable console output when it is.
"""

from __future__ import annotations

import logging
import sys
from typing import TextIO

import structlog

_SDK_CONTEXT = ("temporal_workflow", "temporal_activity")


def _flatten_temporal_context(
    _: object, __: str, event: structlog.types.EventDict
) -> structlog.types.EventDict:
    """Lift the ids the SDK attaches (workflow id, run id, activity type, attempt) to top-level keys."""
    for key in _SDK_CONTEXT:
        info = event.pop(key, None)
        if isinstance(info, dict):
            for name in ("workflow_id", "run_id", "workflow_type", "activity_type", "attempt", "activity_id"):
                if name in info:
                    event[name] = info[name]
            if "workflow_run_id" in info:
                event["run_id"] = info["workflow_run_id"]
            if str(info.get("workflow_id", "")).startswith("case-"):
                event["case_id"] = info["workflow_id"]
    return event


def configure_logging(
    level: str = "INFO", json_output: bool | None = None, stream: TextIO | None = None
) -> None:
    stream = stream or sys.stderr
    if json_output is None:
        json_output = not stream.isatty()
    shared: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.stdlib.ExtraAdder(),
        _flatten_temporal_context,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer() if json_output else structlog.dev.ConsoleRenderer()
    )
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )
    handler = logging.StreamHandler(stream)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Third-party loggers that write protocol traffic (recipients, hosts) stay at WARNING: personal
    # data stays out of logs.
    for noisy in ("mail.log", "aiosmtplib", "httpx", "httpcore", "uvicorn.access"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLevelName(level)))


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    return structlog.stdlib.get_logger(name)

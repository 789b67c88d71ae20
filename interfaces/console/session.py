"""The console's sign-in session and CSRF tokens: signed cookies, no raw token anywhere but the form.

A session cookie holds the key's name, a short digest of the key's token hash, a random nonce and
an expiry, signed with HMAC-SHA256. On every request the key is looked up again by name in the
keyring and the digest compared (in constant time) with its token's now: a key removed from the key
file, or its token replaced under the same name, ends its sessions. Sign-out is recorded in the
database every API process shares (`SignOuts`, adapters/console_sessions.py) until the session
would have expired, so a cookie copied before sign-out is refused by every process and after a
restart. The CSRF token of a form is an HMAC of the session's nonce (of a pre-session nonce on the
sign-in form), so it is tied to the browser that holds the cookie and nothing needs storing.

`read` and `sign_out` reach the database: async callers run them in a thread.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from adapters.api_keys import Keyring
from support.identity.access import Principal

SESSION_COOKIE = "casework_session"
PRE_SESSION_COOKIE = "casework_presession"
SESSION_SECONDS = 8 * 3600
KEY_DIGEST_CHARS = 32  # 128 bits of the key's tag: a replaced token never matches by chance


class SignOuts(Protocol):
    """Sessions signed out before they expire, shared by every API process (the database)."""

    def sign_out(self, session_id: str, expires_at: datetime) -> None: ...

    def signed_out(self, session_id: str) -> bool: ...


@dataclass(frozen=True)
class Session:
    principal: Principal
    nonce: str
    expires: int

    @property
    def session_id(self) -> str:
        """What the sign-out record names the session by: not the nonce the CSRF tokens come from."""
        return hashlib.sha256(self.nonce.encode()).hexdigest()


class Sessions:
    def __init__(
        self, key: bytes, keys: Keyring, sign_outs: SignOuts, lifetime_s: int = SESSION_SECONDS
    ) -> None:
        self._key = hmac.new(key, b"casework console session v2", hashlib.sha256).digest()
        self._keys = keys
        self._sign_outs = sign_outs
        self.lifetime = lifetime_s

    async def fresh(self) -> None:
        """The key file as it is now (`adapters.api_keys.WatchedKeyring`): a key removed from it
        signs in no more, and its sessions end, from the next check on."""
        await self._keys.fresh()

    def _mac(self, purpose: str, data: str) -> str:
        return hmac.new(self._key, f"{purpose}:{data}".encode(), hashlib.sha256).hexdigest()

    def _key_digest(self, token_sha256: bytes) -> str:
        """A short tag of a key's token hash: it names the token the session was signed in with,
        and, keyed, tells the cookie's holder nothing about it."""
        return self._mac("key", token_sha256.hex())[:KEY_DIGEST_CHARS]

    def sign_in(self, token: str) -> tuple[Principal, str] | None:
        """The principal of a token, and the cookie value of its new session."""
        principal = self._keys.authenticate(token)
        if principal is None:
            return None
        body = {
            "n": principal.name,
            "k": self._key_digest(hashlib.sha256(token.encode()).digest()),
            "s": secrets.token_urlsafe(18),
            "e": int(time.time()) + self.lifetime,
        }
        data = base64.urlsafe_b64encode(json.dumps(body, separators=(",", ":")).encode()).decode()
        return principal, f"{data}.{self._mac('session', data)}"

    def read(self, cookie: str | None) -> Session | None:
        """The session of a cookie: well signed, not expired, its key known with the same token,
        not signed out (the last asked of the database, and only for a cookie that passed the rest)."""
        if not cookie or "." not in cookie or len(cookie) > 1024:
            return None
        data, _, mac = cookie.rpartition(".")
        if not hmac.compare_digest(mac, self._mac("session", data)):
            return None
        try:
            body = json.loads(base64.urlsafe_b64decode(data.encode()))
            name, digest, nonce, expires = str(body["n"]), str(body["k"]), str(body["s"]), int(body["e"])
        except (ValueError, KeyError, TypeError):
            return None
        if expires < time.time():
            return None
        key = self._keys.named(name)
        if key is None:
            return None
        principal, token_sha256 = key
        if not hmac.compare_digest(digest.encode(), self._key_digest(token_sha256).encode()):
            return None
        session = Session(principal=principal, nonce=nonce, expires=expires)
        if self._sign_outs.signed_out(session.session_id):
            return None
        return session

    def sign_out(self, session: Session) -> None:
        """End the session on every API process, until it would have expired."""
        self._sign_outs.sign_out(session.session_id, datetime.fromtimestamp(session.expires, UTC))

    def csrf(self, nonce: str) -> str:
        return self._mac("csrf", nonce)

    def csrf_ok(self, nonce: str | None, given: str | None) -> bool:
        return bool(nonce) and bool(given) and hmac.compare_digest(self.csrf(nonce or ""), given or "")


def new_nonce() -> str:
    return secrets.token_urlsafe(18)

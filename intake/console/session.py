"""The console's sign-in session and CSRF tokens: signed cookies, no raw token anywhere but the form.

A session cookie holds the key's name, a random nonce and an expiry, signed with HMAC-SHA256; the
principal is looked up again by name in the keyring on every request, so a key removed from the
key file ends its sessions. The CSRF token of a form is an HMAC of the session's nonce (of a
pre-session nonce on the sign-in form), so it is tied to the browser that holds the cookie and
nothing needs storing. Sign-out forgets the nonce in this process and deletes the cookie.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass

from adapters.api_keys import Keyring
from support.access import Principal

SESSION_COOKIE = "casework_session"
PRE_SESSION_COOKIE = "casework_presession"
SESSION_SECONDS = 8 * 3600
_REVOKED_KEPT = 10_000


@dataclass(frozen=True)
class Session:
    principal: Principal
    nonce: str
    expires: int


class Sessions:
    def __init__(self, key: bytes, keys: Keyring, lifetime_s: int = SESSION_SECONDS) -> None:
        self._key = hmac.new(key, b"casework console session v1", hashlib.sha256).digest()
        self._keys = keys
        self._lifetime = lifetime_s
        self._revoked: dict[str, int] = {}

    def _mac(self, purpose: str, data: str) -> str:
        return hmac.new(self._key, f"{purpose}:{data}".encode(), hashlib.sha256).hexdigest()

    def sign_in(self, token: str) -> tuple[Principal, str] | None:
        """The principal of a token, and the cookie value of its new session."""
        principal = self._keys.authenticate(token)
        if principal is None:
            return None
        body = {"n": principal.name, "s": secrets.token_urlsafe(18), "e": int(time.time()) + self._lifetime}
        data = base64.urlsafe_b64encode(json.dumps(body, separators=(",", ":")).encode()).decode()
        return principal, f"{data}.{self._mac('session', data)}"

    def read(self, cookie: str | None) -> Session | None:
        """The session of a cookie: well signed, not expired, not signed out, its key still known."""
        if not cookie or "." not in cookie or len(cookie) > 1024:
            return None
        data, _, mac = cookie.rpartition(".")
        if not hmac.compare_digest(mac, self._mac("session", data)):
            return None
        try:
            body = json.loads(base64.urlsafe_b64decode(data.encode()))
            name, nonce, expires = str(body["n"]), str(body["s"]), int(body["e"])
        except (ValueError, KeyError, TypeError):
            return None
        if expires < time.time() or nonce in self._revoked:
            return None
        found = [p for p in self._keys.principals if p.name == name]
        if len(found) != 1:
            return None
        return Session(principal=found[0], nonce=nonce, expires=expires)

    def sign_out(self, session: Session) -> None:
        if len(self._revoked) >= _REVOKED_KEPT:
            now = time.time()
            self._revoked = {n: e for n, e in self._revoked.items() if e > now}
        self._revoked[session.nonce] = session.expires

    def csrf(self, nonce: str) -> str:
        return self._mac("csrf", nonce)

    def csrf_ok(self, nonce: str | None, given: str | None) -> bool:
        return bool(nonce) and bool(given) and hmac.compare_digest(self.csrf(nonce or ""), given or "")


def new_nonce() -> str:
    return secrets.token_urlsafe(18)

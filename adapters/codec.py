"""Payload encryption: AES-256-GCM over every workflow and activity payload.

With CASEWORK_ENCRYPTION_KEY set, contact data and descriptions are unreadable in the Temporal
database, the UI and raw histories; search attributes are not payloads and carry no personal
data anyway. Each payload names the key it was sealed with (`encryption-key-id`), so previous
keys (CASEWORK_ENCRYPTION_PREVIOUS_KEYS) keep old cases readable after a rotation. Payloads
written before encryption was turned on are passed through as they are.

The same keys (`KeyRing`) seal what casework keeps in its own database that holds personal data:
a closed case's final record, the attachments of customers' replies, the case's thread and held
mail (adapters/closed_cases.py, adapters/attachment_store.py, adapters/case_messages.py,
adapters/mail_quarantine.py), all through `sealed_value` / `opened_value`. Each sealed value is
stored with the id of the key that sealed it and bound to its table, column and row (AES-GCM
associated data), so a value copied onto another row does not open; a row without a key id was
written in clear (before the key was set) and is read as it is.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import hashlib
import hmac
import os
from collections.abc import Mapping, Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from temporalio.api.common.v1 import Payload
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter, PayloadCodec

ENCODING = b"binary/encrypted"
KEY_ID = "encryption-key-id"


class EncryptionKeyError(ValueError):
    """A key setting that is not 32 bytes of base64."""


def parse_key(text: str, name: str) -> bytes:
    try:
        key = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise EncryptionKeyError(
            f"{name} is not base64; make a key with `python starter.py new-key`"
        ) from None
    if len(key) != 32:
        raise EncryptionKeyError(f"{name} must be 32 bytes (AES-256), it is {len(key)}")
    return key


def new_key() -> str:
    return base64.b64encode(os.urandom(32)).decode()


def key_id(key: bytes) -> str:
    """A public name for a key: its hash prefix, never the key."""
    return hashlib.sha256(key).hexdigest()[:16]


class SealError(ValueError):
    """A sealed value that does not open: altered, moved to another row, or its key is unknown."""


class KeyNotConfigured(SealError):
    """Something was sealed with a key that is neither the current key nor a previous one."""


class KeyRing:
    """The current key (which seals) and the previous ones (which still open), by key id."""

    def __init__(self, current: bytes, previous: Sequence[bytes] = ()) -> None:
        self.current_id = key_id(current)
        self._keys = {key_id(k): AESGCM(k) for k in (current, *previous)}
        self._current = current

    def derived(self, label: bytes) -> bytes:
        """A key for another purpose (a blind index's MAC), derived from the current key by
        HMAC-SHA256 under `label`: never the sealing key itself."""
        return hmac.new(self._current, label, hashlib.sha256).digest()

    def seal(self, plain: bytes, context: bytes | None = None) -> bytes:
        """nonce (12 bytes) + ciphertext and tag, under the current key; `context` is the
        associated data it must be opened with (None for payloads)."""
        nonce = os.urandom(12)
        return nonce + self._keys[self.current_id].encrypt(nonce, plain, context)

    def open(self, kid: str, sealed: bytes, context: bytes | None = None) -> bytes:
        cipher = self._keys.get(kid)
        if cipher is None:
            raise KeyNotConfigured(
                f"sealed with key {kid!r}, which is not configured (CASEWORK_ENCRYPTION_KEY or "
                "CASEWORK_ENCRYPTION_PREVIOUS_KEYS)"
            )
        try:
            return cipher.decrypt(sealed[:12], sealed[12:], context)
        except InvalidTag:
            raise SealError(f"a value sealed with key {kid!r} does not open: altered, or moved") from None


def sealed_value(keys: KeyRing | None, plain: bytes, context: bytes) -> tuple[bytes, str | None]:
    """A database value as its row keeps it, and the key id the row records: sealed under the
    current key and bound to `context` (table, column and row: b"table.column\\0" + the row's key),
    or in clear with no key id when there is no key ring."""
    if keys is None:
        return plain, None
    return keys.seal(plain, context), keys.current_id


def opened_value(keys: KeyRing | None, kid: str | None, stored: bytes, context: bytes, what: str) -> bytes:
    """The value a row keeps: as it is when the row names no key (written in clear), else opened
    with the key it names and the `context` it was sealed with. Raises SealError (`what` names the
    value for an operator) when there is no key ring, the key is not configured (KeyNotConfigured),
    or the value was altered or moved to another row."""
    if kid is None:
        return stored
    if keys is None:
        raise SealError(f"{what} is sealed with key {kid!r} and CASEWORK_ENCRYPTION_KEY is not set")
    return keys.open(kid, stored, context)


def sealed_text(keys: KeyRing | None, plain: str, context: bytes) -> tuple[str, str | None]:
    """`sealed_value` for a text column: base64 of the sealed bytes, or the text in clear."""
    sealed, kid = sealed_value(keys, plain.encode(), context)
    return (plain, None) if kid is None else (base64.b64encode(sealed).decode("ascii"), kid)


def opened_text(keys: KeyRing | None, kid: str | None, stored: str, context: bytes, what: str) -> str:
    """`opened_value` for a text column kept by `sealed_text`."""
    if kid is None:
        return stored
    return opened_value(keys, kid, base64.b64decode(stored), context, what).decode()


class EncryptionCodec(PayloadCodec):
    def __init__(self, current: bytes | KeyRing, previous: Sequence[bytes] = ()) -> None:
        self.keys = current if isinstance(current, KeyRing) else KeyRing(current, previous)

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        kid = self.keys.current_id
        return [
            Payload(
                metadata={"encoding": ENCODING, KEY_ID: kid.encode()},
                data=self.keys.seal(payload.SerializeToString()),
            )
            for payload in payloads
        ]

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        opened = []
        for payload in payloads:
            if payload.metadata.get("encoding") != ENCODING:
                opened.append(payload)  # written before encryption was turned on
                continue
            kid = payload.metadata.get(KEY_ID, b"").decode()
            try:
                plain = self.keys.open(kid, payload.data)
            except KeyNotConfigured:
                raise ValueError(
                    f"payload sealed with key {kid!r}, which is not configured (current or previous)"
                ) from None
            opened.append(Payload.FromString(plain))
        return opened


def key_ring_from_env(environ: Mapping[str, str] | None = None) -> KeyRing | None:
    """CASEWORK_ENCRYPTION_KEY and CASEWORK_ENCRYPTION_PREVIOUS_KEYS; None when no key is set."""
    env = os.environ if environ is None else environ
    current = env.get("CASEWORK_ENCRYPTION_KEY", "").strip()
    if not current:
        return None
    previous = [
        parse_key(k, "CASEWORK_ENCRYPTION_PREVIOUS_KEYS")
        for k in env.get("CASEWORK_ENCRYPTION_PREVIOUS_KEYS", "").split(",")
        if k.strip()
    ]
    return KeyRing(parse_key(current, "CASEWORK_ENCRYPTION_KEY"), previous)


def codec_from_env(environ: dict[str, str] | None = None) -> EncryptionCodec | None:
    keys = key_ring_from_env(environ)
    return EncryptionCodec(keys) if keys is not None else None


def data_converter(codec: PayloadCodec | None) -> DataConverter:
    """The pydantic data converter, with the payload codec when encryption is on."""
    if codec is None:
        return pydantic_data_converter
    return dataclasses.replace(pydantic_data_converter, payload_codec=codec)

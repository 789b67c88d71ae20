"""Payload encryption: AES-256-GCM over every workflow and activity payload.

With CASEWORK_ENCRYPTION_KEY set, contact data and descriptions are unreadable in the Temporal
database, the UI and raw histories; search attributes are not payloads and carry no personal
data anyway. Each payload names the key it was sealed with (`encryption-key-id`), so previous
keys (CASEWORK_ENCRYPTION_PREVIOUS_KEYS) keep old cases readable after a rotation. Payloads
written before encryption was turned on are passed through as they are.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import hashlib
import os
from collections.abc import Sequence

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


class EncryptionCodec(PayloadCodec):
    def __init__(self, current: bytes, previous: Sequence[bytes] = ()) -> None:
        self._current_id = key_id(current)
        self._keys = {key_id(k): AESGCM(k) for k in (current, *previous)}

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        sealed = []
        for payload in payloads:
            nonce = os.urandom(12)
            data = self._keys[self._current_id].encrypt(nonce, payload.SerializeToString(), None)
            sealed.append(
                Payload(metadata={"encoding": ENCODING, KEY_ID: self._current_id.encode()}, data=nonce + data)
            )
        return sealed

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        opened = []
        for payload in payloads:
            if payload.metadata.get("encoding") != ENCODING:
                opened.append(payload)  # written before encryption was turned on
                continue
            kid = payload.metadata.get(KEY_ID, b"").decode()
            cipher = self._keys.get(kid)
            if cipher is None:
                raise ValueError(
                    f"payload sealed with key {kid!r}, which is not configured (current or previous)"
                )
            plain = cipher.decrypt(payload.data[:12], payload.data[12:], None)
            opened.append(Payload.FromString(plain))
        return opened


def codec_from_env(environ: dict[str, str] | None = None) -> EncryptionCodec | None:
    env = os.environ if environ is None else environ
    current = env.get("CASEWORK_ENCRYPTION_KEY", "").strip()
    if not current:
        return None
    previous = [
        parse_key(k, "CASEWORK_ENCRYPTION_PREVIOUS_KEYS")
        for k in env.get("CASEWORK_ENCRYPTION_PREVIOUS_KEYS", "").split(",")
        if k.strip()
    ]
    return EncryptionCodec(parse_key(current, "CASEWORK_ENCRYPTION_KEY"), previous)


def data_converter(codec: PayloadCodec | None) -> DataConverter:
    """The pydantic data converter, with the payload codec when encryption is on."""
    if codec is None:
        return pydantic_data_converter
    return dataclasses.replace(pydantic_data_converter, payload_codec=codec)

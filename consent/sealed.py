"""Reference audio kept at rest only encrypted (AES-256-GCM), for engines that condition on audio.

The key is derived from the registry key that was current when the audio was sealed, so it needs
no storage of its own and survives key rotation; the profile id is authenticated with the data, so
a sealed file moved to another profile does not open.

Format: b"VKS1" | key id (16 ASCII hex) | 12-byte nonce | ciphertext with its 16-byte tag.
"""
from __future__ import annotations

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from consent.errors import KeyStoreError, SealedDataError
from consent.keys import RegistryKeys

MAGIC = b"VKS1"
PURPOSE = b"voicekit/reference-audio/v1"
_KID, _NONCE = 16, 12


def seal(data: bytes, keys: RegistryKeys, profile_id: str) -> bytes:
    kid = keys.current_key_id.encode("ascii")
    nonce = os.urandom(_NONCE)
    return MAGIC + kid + nonce + AESGCM(keys.secret(PURPOSE)).encrypt(nonce, data, profile_id.encode())


def unseal(blob: bytes, keys: RegistryKeys, profile_id: str) -> bytes:
    """Raises SealedDataError when the blob is not ours, was altered or belongs to another profile."""
    header = len(MAGIC) + _KID + _NONCE
    if len(blob) < header + 16 or not blob.startswith(MAGIC):
        raise SealedDataError("not a voicekit sealed file")
    kid = blob[len(MAGIC):len(MAGIC) + _KID].decode("ascii", errors="replace")
    nonce = blob[len(MAGIC) + _KID:header]
    try:
        return AESGCM(keys.secret(PURPOSE, kid)).decrypt(nonce, blob[header:], profile_id.encode())
    except KeyStoreError as e:
        raise SealedDataError(f"sealed with key {kid}, which this registry does not hold") from e
    except InvalidTag as e:
        raise SealedDataError(f"sealed data for {profile_id} was altered or belongs to another profile") from e

"""The registry's Ed25519 signing keys: created on first use, encrypted at rest when a passphrase is set.

Layout under <home>/keys: `<key_id>.pem` (PKCS#8 private key, mode 0600), `<key_id>.pub` (raw public key,
hex) and `current` (the key id that signs new records). Older keys stay so their signatures keep
verifying and their watermarks keep being found after a rotation.

A key file proves nothing by being on disk: anyone who can write to the folder can plant a `.pub`.
Only keys named by `trust` (the pinned root and the keys it introduced, see `consent.trust`) verify
signatures or derive watermark secrets; the others are listed by `untrusted()` for reports.
"""
from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from consent.errors import KeyStoreError, SignatureInvalid
from consent.keystores import FolderKeyStore, KeyStore


def key_id_of(public: Ed25519PublicKey) -> str:
    """First 16 hex digits of SHA-256 over the raw public key."""
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


@dataclass(frozen=True)
class Signature:
    key_id: str
    value: str  # base64 of the 64-byte Ed25519 signature

    def as_dict(self) -> dict[str, str]:
        return {"key_id": self.key_id, "value": self.value}


class RegistryKeys:
    """Signs with the current key; verifies with any key this installation has held."""

    def __init__(
        self,
        private: dict[str, Ed25519PrivateKey],
        public: dict[str, Ed25519PublicKey],
        current: str,
        store: "KeyStore | None" = None,
        passphrase: bytes | None = None,
    ):
        self._private = private
        self._public = public
        self.current_key_id = current
        self._store = store
        self._passphrase = passphrase
        # Until a trust store narrows it, the keys whose private part we hold (a planted `.pub`
        # never signs); `consent.trust` sets the pinned root and the keys it introduced.
        self._trusted = set(private)
        # Called once when a signature names a key we do not trust: another process (the CLI
        # beside a running server) may have introduced it since (see consent.records).
        self.refresh: Callable[[], object] | None = None

    @classmethod
    def open(cls, where: "Path | KeyStore", passphrase: bytes | None = None) -> "RegistryKeys":
        """Load every key of a key store (a folder, or a database's table), creating the first one
        if there is none."""
        store = where if isinstance(where, KeyStore) else FolderKeyStore(Path(where))
        if store.current() is None:
            store.add(*_new_key_pem(passphrase), make_current=True)
        current = store.current()
        private: dict[str, Ed25519PrivateKey] = {}
        public: dict[str, Ed25519PublicKey] = {}
        for kid, pem in store.private_pems().items():
            key = _load_private(kid, pem, passphrase)
            if key_id_of(key.public_key()) != kid:
                raise KeyStoreError(f"key {kid} in {store.name} holds key {key_id_of(key.public_key())}")
            private[kid] = key
            public[kid] = key.public_key()
        for kid, public_hex in store.public_hexes().items():
            if kid not in public:  # a public key kept for verification only
                public[kid] = Ed25519PublicKey.from_public_bytes(bytes.fromhex(public_hex))
        if current not in private:
            raise KeyStoreError(f"the current signing key {current} is missing from the key store")
        return cls(private, public, current, store, passphrase)

    def current_stamp(self) -> object:
        """Changes when another process makes another key current (a rotation to follow)."""
        return None if self._store is None else self._store.stamp()

    def reload_current(self) -> bool:
        """Follow a rotation made by another process: load the key the store now names current
        (its private part, with this store's passphrase) and sign with it once it is trusted (the
        caller re-establishes trust first). Returns whether the signing key changed."""
        if self._store is None:
            return False
        current = self._store.current()
        if current == self.current_key_id:
            return False
        if current not in self._private:
            key = _load_private(current, self._store.pem(current), self._passphrase)
            if key_id_of(key.public_key()) != current:
                raise KeyStoreError(f"key {current} in {self._store.name} holds another key")
            self._private[current] = key
            self._public.setdefault(current, key.public_key())
        if current not in self._trusted:
            raise KeyStoreError(f"the current signing key {current} was never introduced by a trusted key")
        self.current_key_id = current
        return True

    def new_key(self) -> str:
        """Make a new key pair in the store, neither trusted nor current; returns its id. A rotation
        introduces it with an entry signed by the current key, then calls `make_current`."""
        if self._store is None:
            raise KeyStoreError("these keys were not opened from a key store; nothing to rotate")
        kid, pem, public_hex = _new_key_pem(self._passphrase)
        self._store.add(kid, pem, public_hex, make_current=False)
        key = _load_private(kid, pem, self._passphrase)
        self._private[kid] = key
        self._public[kid] = key.public_key()
        return kid

    def make_current(self, key_id: str) -> None:
        """Sign with `key_id` from now on; it must be trusted and its private key held."""
        if key_id not in self._private or key_id not in self._trusted:
            raise KeyStoreError(f"key {key_id} cannot sign: it is not a trusted key of this store")
        if self._store is not None:
            self._store.set_current(key_id)
        self.current_key_id = key_id

    def set_trusted(self, key_ids: set[str], require_current: bool = True) -> None:
        """Verify with these keys only (the trust store's verdict); the current key must be among them."""
        if require_current and self.current_key_id not in key_ids:
            raise KeyStoreError(
                f"the current signing key {self.current_key_id} was never introduced by a trusted key "
                "(a key planted in the key folder, or a rotation that did not finish)")
        self._trusted = set(key_ids) & set(self._public)

    def trust(self, key_id: str) -> None:
        """Add one key, introduced by a signed rotation."""
        if key_id not in self._public:
            raise KeyStoreError(f"key {key_id} is not in the key store")
        self._trusted.add(key_id)

    def trusted(self) -> set[str]:
        return set(self._trusted)

    def untrusted(self) -> list[str]:
        """Key ids found in the key folder that no trusted key introduced: they verify nothing."""
        return sorted(set(self._public) - self._trusted)

    def add_public(self, key_id: str, public_hex: str) -> None:
        """Hold a public key introduced elsewhere (its trust row carries it); untrusted until trusted."""
        key = Ed25519PublicKey.from_public_bytes(bytes.fromhex(public_hex))
        if key_id_of(key) != key_id:
            raise KeyStoreError(f"public key {public_hex[:16]}... is not key {key_id}")
        self._public.setdefault(key_id, key)

    def public_keys_on_disk(self) -> dict[str, str]:
        """Every key id in the folder, trusted or not -> raw public key in hex."""
        return {kid: self.public_key_hex(kid) for kid in self._public}

    def public_key_hex(self, key_id: str) -> str:
        return self._public[key_id].public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw).hex()

    def sign(self, data: bytes, key_id: str | None = None) -> Signature:
        """Sign with the current key (or `key_id`, a held private key: introductions at pinning)."""
        kid = key_id or self.current_key_id
        value = self._private[kid].sign(data)
        return Signature(kid, base64.b64encode(value).decode("ascii"))

    def verify(self, data: bytes, signature: Signature) -> None:
        """Return nothing; raise SignatureInvalid for an unknown key id, bad encoding or a wrong signature."""
        if signature.key_id not in self._trusted and self.refresh is not None:
            self.refresh()
        public = self._public.get(signature.key_id)
        if public is None:
            raise SignatureInvalid(f"signed by key {signature.key_id}, which this registry does not hold")
        if signature.key_id not in self._trusted:
            raise SignatureInvalid(f"signed by key {signature.key_id}, which no trusted key introduced "
                                   "(found in the key folder only)")
        try:
            public.verify(base64.b64decode(signature.value, validate=True), data)
        except (InvalidSignature, ValueError) as e:
            raise SignatureInvalid(f"signature by key {signature.key_id} does not match the data") from e

    def public_keys(self) -> dict[str, str]:
        """Trusted key id -> raw public key in hex, for auditors."""
        return {kid: self.public_key_hex(kid) for kid in sorted(self._trusted)}

    def public_pem(self) -> dict[str, str]:
        """Trusted key id -> SubjectPublicKeyInfo PEM, the form most verification tools read."""
        return {
            kid: self._public[kid].public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
            for kid in sorted(self._trusted)
        }

    def secret(self, purpose: bytes, key_id: str | None = None) -> bytes:
        """A 32-byte secret for `purpose`, derived with HKDF-SHA256 from a private key (default the
        current one), so it is as secret as the signing key and needs no storage of its own."""
        kid = key_id or self.current_key_id
        if kid not in self._private:
            raise KeyStoreError(f"private key {kid} is not in this key store")
        raw = self._private[kid].private_bytes(
            serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
        )
        return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose).derive(raw)

    def watermark_secrets(self) -> list[bytes]:
        """One 32-byte watermark secret per trusted private key, the current key's first."""
        order = [self.current_key_id] + sorted(k for k in self._private
                                               if k != self.current_key_id and k in self._trusted)
        return [self.secret(b"voicekit/watermark/v1", kid) for kid in order]


def verify_raw(public_hex: str, data: bytes, value: str) -> None:
    """Check a base64 Ed25519 signature against a raw public key in hex; raises SignatureInvalid."""
    try:
        Ed25519PublicKey.from_public_bytes(bytes.fromhex(public_hex)).verify(base64.b64decode(value, validate=True), data)
    except (InvalidSignature, ValueError, TypeError) as e:
        raise SignatureInvalid("the signature does not match the public key") from e


def _new_key_pem(passphrase: bytes | None) -> tuple[str, bytes, str]:
    """A new key: its id, its PKCS#8 PEM (encrypted when a passphrase is given), its raw public key in hex."""
    key = Ed25519PrivateKey.generate()
    encryption = (
        serialization.BestAvailableEncryption(passphrase) if passphrase else serialization.NoEncryption()
    )
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)
    raw_public = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return key_id_of(key.public_key()), pem, raw_public.hex()


def _load_private(kid: str, data: bytes, passphrase: bytes | None) -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(data, password=passphrase or None)
    except TypeError as e:
        if b"ENCRYPTED" in data and not passphrase:
            raise KeyStoreError(f"key {kid} is encrypted: set VOICEKIT_KEY_PASSPHRASE") from e
        raise KeyStoreError(f"key {kid} is not encrypted but a passphrase was given") from e
    except ValueError as e:
        raise KeyStoreError(f"key {kid} cannot be loaded (wrong passphrase or corrupt file)") from e
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyStoreError(f"key {kid} is not an Ed25519 key")
    return key

"""The registry's Ed25519 signing keys: created on first use, encrypted at rest when a passphrase is set.

Layout under <home>/keys: `<key_id>.pem` (PKCS#8 private key, mode 0600), `<key_id>.pub` (raw public key,
hex) and `current` (the key id that signs new records). Older keys stay so their signatures keep
verifying and their watermarks keep being found after a rotation.
"""
from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from consent.atomic import atomic_write
from consent.errors import KeyStoreError, SignatureInvalid


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
        directory: Path | None = None,
        passphrase: bytes | None = None,
    ):
        self._private = private
        self._public = public
        self.current_key_id = current
        self._directory = directory
        self._passphrase = passphrase

    @classmethod
    def open(cls, directory: Path, passphrase: bytes | None = None) -> "RegistryKeys":
        """Load every key under `directory`, creating the first one if there is none."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        if not (directory / "current").exists():
            _write_new_key(directory, passphrase)
        current = (directory / "current").read_text().strip()
        private: dict[str, Ed25519PrivateKey] = {}
        public: dict[str, Ed25519PublicKey] = {}
        for pem in sorted(directory.glob("*.pem")):
            key = _load_private(pem, passphrase)
            kid = key_id_of(key.public_key())
            if kid != pem.stem:
                raise KeyStoreError(f"key file {pem.name} holds key {kid}, not {pem.stem}")
            private[kid] = key
            public[kid] = key.public_key()
        for pub in sorted(directory.glob("*.pub")):
            if pub.stem not in public:  # a public key kept for verification only
                public[pub.stem] = Ed25519PublicKey.from_public_bytes(bytes.fromhex(pub.read_text().strip()))
        if current not in private:
            raise KeyStoreError(f"the current signing key {current} is missing from the key store")
        return cls(private, public, current, directory, passphrase)

    def rotate(self) -> str:
        """Make a new signing key and sign with it from now on; returns its id.

        Older keys stay: their signatures keep verifying and their watermarks keep being found.
        """
        if self._directory is None:
            raise KeyStoreError("these keys were not opened from a key store; nothing to rotate")
        kid = _write_new_key(self._directory, self._passphrase)
        key = _load_private(self._directory / f"{kid}.pem", self._passphrase)
        self._private[kid] = key
        self._public[kid] = key.public_key()
        self.current_key_id = kid
        return kid

    def sign(self, data: bytes) -> Signature:
        value = self._private[self.current_key_id].sign(data)
        return Signature(self.current_key_id, base64.b64encode(value).decode("ascii"))

    def verify(self, data: bytes, signature: Signature) -> None:
        """Return nothing; raise SignatureInvalid for an unknown key id, bad encoding or a wrong signature."""
        public = self._public.get(signature.key_id)
        if public is None:
            raise SignatureInvalid(f"signed by key {signature.key_id}, which this registry does not hold")
        try:
            public.verify(base64.b64decode(signature.value, validate=True), data)
        except (InvalidSignature, ValueError) as e:
            raise SignatureInvalid(f"signature by key {signature.key_id} does not match the data") from e

    def public_keys(self) -> dict[str, str]:
        """key id -> raw public key in hex, for auditors."""
        return {
            kid: key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw).hex()
            for kid, key in self._public.items()
        }

    def public_pem(self) -> dict[str, str]:
        """key id -> SubjectPublicKeyInfo PEM, the form most verification tools read."""
        return {
            kid: key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
            for kid, key in self._public.items()
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
        """One 32-byte watermark secret per private key, the current key's first."""
        order = [self.current_key_id] + sorted(k for k in self._private if k != self.current_key_id)
        return [self.secret(b"voicekit/watermark/v1", kid) for kid in order]


def _write_new_key(directory: Path, passphrase: bytes | None) -> str:
    key = Ed25519PrivateKey.generate()
    kid = key_id_of(key.public_key())
    encryption = (
        serialization.BestAvailableEncryption(passphrase) if passphrase else serialization.NoEncryption()
    )
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)
    atomic_write(directory / f"{kid}.pem", pem, mode=0o600)
    raw_public = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    atomic_write(directory / f"{kid}.pub", raw_public.hex().encode() + b"\n")
    atomic_write(directory / "current", kid.encode() + b"\n")
    return kid


def _load_private(pem: Path, passphrase: bytes | None) -> Ed25519PrivateKey:
    data = pem.read_bytes()
    try:
        key = serialization.load_pem_private_key(data, password=passphrase or None)
    except TypeError as e:
        if b"ENCRYPTED" in data and not passphrase:
            raise KeyStoreError(f"key {pem.stem} is encrypted: set VOICEKIT_KEY_PASSPHRASE") from e
        raise KeyStoreError(f"key {pem.stem} is not encrypted but a passphrase was given") from e
    except ValueError as e:
        raise KeyStoreError(f"key {pem.stem} cannot be loaded (wrong passphrase or corrupt file)") from e
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyStoreError(f"key {pem.stem} is not an Ed25519 key")
    return key

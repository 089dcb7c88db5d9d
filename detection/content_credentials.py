"""C2PA Content Credentials: a manifest inside each released file that any C2PA reader can check.

The installation is its own small certificate authority (C2PA readers refuse a self-signed
end-entity certificate): under `<home>/c2pa` a root (ECDSA P-256, twenty years) signs an end-entity
certificate (two years, re-issued when it has under a month left) whose key signs the manifests.
Auditors trust the root (`voicekit keys export-public` prints it). Private keys are PKCS#8, mode
0600, encrypted with the installation's passphrase when one is set.

A manifest names the voice, the consent record (its SHA-256), the mark id and the ledger entry
(sequence and hash) of the output it is in; its data hash binds every byte of the file outside the
manifest, so a changed sample fails validation. c2pa-python is imported on first use (a native
library), never at import time.
"""
from __future__ import annotations

import datetime
import fcntl
import hashlib
import io
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from consent.atomic import atomic_write
from detection.errors import CredentialsError

# The formats c2pa-rs embeds a manifest in (WAV as a RIFF chunk, MP3 in ID3, MP4 in a uuid box,
# FLAC in a metadata block). Ogg (Opus), bare ADTS (AAC) and raw PCM have no place for one.
MIME_TYPES = {"wav": "audio/wav", "mp3": "audio/mpeg", "m4a": "audio/mp4", "m4b": "audio/mp4",
              "flac": "audio/flac"}
ASSERTION = "org.voicekit.provenance"
ALGORITHM = "es256"
ROOT_DAYS, SIGNER_DAYS, RENEW_DAYS = 20 * 365, 2 * 365, 30
# IPTC's digital source type for audio made by a trained model.
SYNTHETIC = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"


def holds_manifest(fmt: str) -> bool:
    return fmt in MIME_TYPES


def not_held(fmt: str) -> dict[str, Any]:
    """What the provenance says of a format C2PA cannot hold."""
    return {"embedded": False, "reason": f"{fmt} files cannot hold a C2PA manifest"}


def ledger_field(fmt: str) -> dict[str, Any]:
    """The ledger entry's "c2pa" field for an output released as `fmt`."""
    return {"embedded": True} if holds_manifest(fmt) else not_held(fmt)


@dataclass(frozen=True)
class Credentials:
    """The signing chain of this installation: PEM certificates (end entity, then root) and the
    end entity's private key."""

    chain_pem: bytes
    key_pem: bytes
    root_pem: bytes

    @property
    def root_fingerprint(self) -> str:
        cert = x509.load_pem_x509_certificate(self.root_pem)
        return cert.fingerprint(hashes.SHA256()).hex()

    def sign(self, data: bytes, fmt: str, provenance: dict[str, Any], version: str, title: str) -> bytes:
        """The file `data` (in `fmt`, one of MIME_TYPES) with a signed manifest carrying
        `provenance` (our assertion). Raises CredentialsError when c2pa refuses."""
        import c2pa

        manifest = {
            "claim_generator_info": [{"name": "voicekit", "version": version}],
            "title": title,
            "format": MIME_TYPES[fmt],
            "assertions": [
                {"label": "c2pa.actions", "data": {"actions": [{
                    "action": "c2pa.created", "digitalSourceType": SYNTHETIC,
                    "softwareAgent": {"name": "voicekit", "version": version}}]}},
                {"label": ASSERTION, "data": provenance},
            ],
        }
        out = io.BytesIO()
        try:
            signer = c2pa.Signer.from_info(c2pa.C2paSignerInfo(ALGORITHM.encode(), self.chain_pem, self.key_pem, None))
            with signer, c2pa.Builder(manifest) as builder:
                builder.sign(signer, MIME_TYPES[fmt], io.BytesIO(data), out)
        except c2pa.C2paError as e:
            raise CredentialsError(f"could not sign the {fmt} file's C2PA manifest: {e}") from e
        return out.getvalue()


def open_credentials(folder: Path, passphrase: bytes | None = None, now: float | None = None) -> Credentials:
    """This installation's chain under `folder`, made on first use and the end entity re-issued
    near its expiry. Safe against another process doing the same at once (a lock file)."""
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    when = datetime.datetime.fromtimestamp(now, datetime.timezone.utc) if now is not None \
        else datetime.datetime.now(datetime.timezone.utc)
    with _locked(folder / ".lock"):
        if not (folder / "root.pem").exists():
            key = ec.generate_private_key(ec.SECP256R1())
            _write_key(folder / "root.key", key, passphrase)
            atomic_write(folder / "root.pem", _pem(_root_certificate(key, when)))
        root = x509.load_pem_x509_certificate((folder / "root.pem").read_bytes())
        signer_file = folder / "signer.pem"
        if not signer_file.exists() or _expiring(signer_file, when):
            root_key = _read_key(folder / "root.key", passphrase)
            key = ec.generate_private_key(ec.SECP256R1())
            _write_key(folder / "signer.key", key, passphrase)
            atomic_write(signer_file, _pem(_signer_certificate(key, root, root_key, when)) + _pem(root))
        signer_key = _read_key(folder / "signer.key", passphrase)
    unencrypted = signer_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption())
    return Credentials(signer_file.read_bytes(), unencrypted, _pem(root))


def read_manifest(source: Path | bytes, fmt: str, trusted_roots: list[bytes]) -> dict[str, Any]:
    """The C2PA manifest of a file (a path, or its bytes in `fmt`), validated with `trusted_roots`
    (PEM) as the only trust anchors: {"present": False} when there is none or the format cannot
    hold one; otherwise the validation state ("Trusted": signed by a chain to a trusted root and
    every hash matches; "Valid": intact but signed by an untrusted chain; "Invalid"), the failure
    codes, the signer, and our assertion."""
    if fmt not in MIME_TYPES:
        return {"present": False, **not_held(fmt or "extension-less")}
    import c2pa

    settings = {"verify": {"verify_trust": True, "remote_manifest_fetch": False, "ocsp_fetch": False},
                "trust": {"trust_anchors": b"".join(trusted_roots).decode()}}
    data = source.read_bytes() if isinstance(source, Path) else source
    try:
        context = c2pa.Context.from_dict(settings)
        reader = c2pa.Reader.try_create(MIME_TYPES[fmt], io.BytesIO(data), context=context)
        if reader is None:
            return {"present": False}
        with reader:
            state = reader.get_validation_state()
            results = reader.get_validation_results() or {}
            manifest = reader.get_active_manifest() or {}
    except c2pa.C2paError as e:
        return {"present": True, "state": "Invalid", "failures": [f"unreadable manifest: {e}"]}
    active = results.get("activeManifest", {})
    ours = next((a.get("data") for a in manifest.get("assertions", []) if a.get("label") == ASSERTION), None)
    signature = manifest.get("signature_info") or {}
    return {
        "present": True,
        "state": state,
        "failures": sorted({f["code"] for f in active.get("failure", [])}),
        "signer": signature.get("common_name"),
        "issuer": signature.get("issuer"),
        "provenance": ours,
    }


def _root_certificate(key: ec.EllipticCurvePrivateKey, now: datetime.datetime) -> x509.Certificate:
    name = _name("voicekit C2PA root", key)
    return (_builder(name, name, key.public_key(), now, ROOT_DAYS)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(_usage(cert_sign=True), critical=True)
            .sign(key, hashes.SHA256()))


def _signer_certificate(key: ec.EllipticCurvePrivateKey, root: x509.Certificate,
                        root_key: ec.EllipticCurvePrivateKey, now: datetime.datetime) -> x509.Certificate:
    # C2PA's profile: not a CA, digital signature only, and an extended key usage it accepts
    # (email protection is one of those every reader knows).
    return (_builder(_name("voicekit C2PA signer", key), root.subject, key.public_key(), now, SIGNER_DAYS)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(_usage(cert_sign=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(root_key.public_key()), critical=False)
            .sign(root_key, hashes.SHA256()))


def _builder(subject: x509.Name, issuer: x509.Name, public: ec.EllipticCurvePublicKey,
             now: datetime.datetime, days: int) -> x509.CertificateBuilder:
    return (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer).public_key(public)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=days))
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False))


def _name(role: str, key: ec.EllipticCurvePrivateKey) -> x509.Name:
    """Each installation's names differ (the key's fingerprint), so two installations' chains are told apart."""
    raw = key.public_key().public_bytes(serialization.Encoding.X962, serialization.PublicFormat.CompressedPoint)
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "voicekit installation"),
                      x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, hashlib.sha256(raw).hexdigest()[:16]),
                      x509.NameAttribute(NameOID.COMMON_NAME, role)])


def _usage(cert_sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(digital_signature=not cert_sign, content_commitment=False, key_encipherment=False,
                         data_encipherment=False, key_agreement=False, key_cert_sign=cert_sign,
                         crl_sign=cert_sign, encipher_only=False, decipher_only=False)


def _expiring(signer_file: Path, now: datetime.datetime) -> bool:
    cert = x509.load_pem_x509_certificate(signer_file.read_bytes())
    return cert.not_valid_after_utc - now < datetime.timedelta(days=RENEW_DAYS)


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey, passphrase: bytes | None) -> None:
    protection = (serialization.BestAvailableEncryption(passphrase) if passphrase
                  else serialization.NoEncryption())
    atomic_write(path, key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, protection),
                 mode=0o600)


def _read_key(path: Path, passphrase: bytes | None) -> ec.EllipticCurvePrivateKey:
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=passphrase or None)
    except (ValueError, TypeError) as e:
        raise CredentialsError(f"cannot open the C2PA key {path.name}: wrong passphrase or damaged file") from e
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise CredentialsError(f"the C2PA key {path.name} is not an ECDSA key")
    return key


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def assertion_for(entry: dict[str, Any]) -> dict[str, Any]:
    """The manifest's assertion for a speech output's signed ledger entry: what ties the file to its record."""
    body = entry["body"]
    return {
        "voice": body.get("voice"),
        "consent_record_sha256": body.get("voice_record_sha256"),
        "mark_id": f"{body['mark_id']:08x}",
        "watermark": body.get("watermark"),
        "ledger_seq": entry["seq"],
        "ledger_entry_hash": entry["hash"],
        "key_id": entry.get("signature", {}).get("key_id"),
    }


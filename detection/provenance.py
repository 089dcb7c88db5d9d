"""Provenance records: the signed ledger entry of an output, checked by anyone holding the public keys."""
from __future__ import annotations

from typing import Any

from consent.errors import SignatureInvalid
from consent.keys import RegistryKeys, Signature
from consent.ledger import LedgerEntry


def check(record: dict[str, Any], keys: RegistryKeys) -> None:
    """Return nothing when the record's hash matches its content and its signature verifies;
    raise SignatureInvalid otherwise."""
    try:
        entry = LedgerEntry.from_dict(record)
    except (KeyError, TypeError) as e:
        raise SignatureInvalid("not a provenance record") from e
    if LedgerEntry.digest(entry.seq, entry.prev, entry.time, entry.kind, entry.body) != entry.hash:
        raise SignatureInvalid("the record's content does not match its hash")
    keys.verify(bytes.fromhex(entry.hash), Signature(**record["signature"]))


def summary(record: dict[str, Any], keys: RegistryKeys) -> dict[str, Any]:
    """What an auditor reads: who spoke, with which engine, when, and whether the signature holds."""
    try:
        check(record, keys)
        valid = True
    except SignatureInvalid:
        valid = False
    body = record.get("body", {})
    return {
        "voice": body.get("voice"),
        "engine": body.get("engine"),
        "model": body.get("model"),
        "time": record.get("time"),
        "ledger_seq": record.get("seq"),
        "text_sha256": body.get("text_sha256"),
        "watermark": body.get("watermark"),  # the mark's scheme and version when the output was made
        "entry_hash": record.get("hash"),
        "audio_sha256": body.get("audio_sha256"),
        "passive": body.get("passive"),  # the passive detector's score of the audio as released
        "signature_valid": valid,
        "key_id": record.get("signature", {}).get("key_id"),
    }

"""Folder audits and their signed reports: what an auditor hands a third party.

A report names the public key that signed it, so anyone can check that no byte changed since it
was signed (`verify_report`); whether that key is the operator's is for the reader to confirm
against `voicekit keys export-public`, which is why `verify_report` can also demand one key.
"""
from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any, Iterable

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from consent.canonical import canonical_bytes
from consent.errors import SignatureInvalid
from consent.keys import RegistryKeys, key_id_of, verify_raw
from detection.errors import ReportInvalid, ReportTampered

REPORT_FORMAT = "voicekit-audit-report/1"
# Verdicts, in the order the summary lists them:
OURS = "ours"  # our mark, and the ledger record it names (signature checked)
MARKED_UNATTRIBUTED = "marked-unattributed"  # our mark, but no record could be named (payload lost to an edit)
RECORD_INVALID = "record-invalid"  # our mark names a record, but it or the chain around it does not verify
NO_MARK = "no-mark"  # none of our marks found (not proof that we did not make it)
UNREADABLE = "unreadable"  # missing, not audio, or over the decoder's limits
VERDICTS = (OURS, MARKED_UNATTRIBUTED, RECORD_INVALID, NO_MARK, UNREADABLE)


def audio_files(paths: Iterable[Path | str], recursive: bool = False) -> list[Path]:
    """The files to audit: each file given, and the files in each folder given (with `recursive`,
    in its subfolders too), sorted, hidden files left out. A path that does not exist is kept, so
    the audit reports it as unreadable instead of dropping it silently."""
    files: list[Path] = []
    for path in map(Path, paths):
        if path.is_dir():
            found = path.rglob("*") if recursive else path.iterdir()
            files.extend(sorted(p for p in found if p.is_file()
                                and not any(part.startswith(".") for part in p.relative_to(path).parts)))
        else:
            files.append(path)
    return files


def summary(rows: list[dict[str, Any]]) -> dict[str, int]:
    """Files per verdict, every verdict listed (zero included)."""
    counts = Counter(row["verdict"] for row in rows)
    return {verdict: counts.get(verdict, 0) for verdict in VERDICTS}


def signed_report(body: dict[str, Any], keys: RegistryKeys) -> dict[str, Any]:
    """The report with a signature by the current registry key over its canonical bytes, and that
    key in the clear (raw Ed25519, hex)."""
    signature = keys.sign(canonical_bytes(body))
    return {
        "format": REPORT_FORMAT,
        "report": body,
        "signature": signature.as_dict(),
        "public_key": keys.public_key_hex(signature.key_id),
    }


def verify_report(document: bytes | str | dict[str, Any], public_key: str | None = None) -> str:
    """The id of the key that signed the report (JSON, or the HTML page that embeds it); raises
    ReportInvalid for something that is not a report and ReportTampered when any byte of its
    content or signature changed, or when `public_key` (hex) is given and did not sign it."""
    if isinstance(document, bytes):
        try:
            document = document.decode("utf-8")
        except UnicodeDecodeError as e:
            raise ReportInvalid("not a voicekit audit report (not UTF-8 text)") from e
    if isinstance(document, str) and document.lstrip().lower().startswith("<!doctype html"):
        from detection.report_html import signed_json

        embedded = signed_json(document)
        if embedded is None:
            raise ReportInvalid("not a voicekit audit report (an HTML page without the signed report)")
        document = embedded
    if not isinstance(document, dict):
        try:
            document = json.loads(document)
        except ValueError as e:
            raise ReportInvalid("not a voicekit audit report (not JSON)") from e
    try:
        body, signature, key_hex = document["report"], document["signature"], document["public_key"]
        if document.get("format") != REPORT_FORMAT:
            raise ReportInvalid(f"not a voicekit audit report (format {document.get('format')!r})")
        key_id = key_id_of(Ed25519PublicKey.from_public_bytes(bytes.fromhex(key_hex)))
        value = signature["value"]
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        raise ReportInvalid("not a voicekit audit report (fields missing or malformed)") from e
    if signature.get("key_id") != key_id:
        raise ReportTampered(f"the report names key {signature.get('key_id')} but carries key {key_id}")
    if public_key is not None and public_key.strip().lower() != key_hex.lower():
        raise ReportTampered(f"the report is signed by key {key_id}, not by the key given")
    try:
        verify_raw(key_hex, canonical_bytes(body), value)
    except SignatureInvalid as e:
        raise ReportTampered("its content or signature changed after it was signed") from e
    return key_id

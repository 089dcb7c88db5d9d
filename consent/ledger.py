"""The append-only ledger: one signed, hash-chained JSON line per consent change and per output.

Each entry holds the hash of the one before it and a signature over its own hash, so an edited,
removed or reordered entry breaks the chain. A signed head (`head.json`, rewritten atomically after
each append) names the last entry, so cutting entries off the end is caught too.
"""
from __future__ import annotations

import fcntl
import hashlib
import json
import os
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from consent.atomic import atomic_write
from consent.canonical import canonical_bytes
from consent.errors import LedgerCorrupt, SignatureInvalid
from consent.keys import RegistryKeys, Signature

GENESIS = "0" * 64


@dataclass(frozen=True)
class LedgerEntry:
    seq: int
    prev: str
    time: float
    kind: str  # "output", "voice-registered", "revocation", ...
    body: dict[str, Any]
    hash: str
    signature: Signature

    @staticmethod
    def digest(seq: int, prev: str, time: float, kind: str, body: dict[str, Any]) -> str:
        unsigned = {"seq": seq, "prev": prev, "time": time, "kind": kind, "body": body}
        return hashlib.sha256(canonical_bytes(unsigned)).hexdigest()

    def as_dict(self) -> dict[str, Any]:
        return {
            "seq": self.seq, "prev": self.prev, "time": self.time, "kind": self.kind,
            "body": self.body, "hash": self.hash, "signature": self.signature.as_dict(),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "LedgerEntry":
        return cls(d["seq"], d["prev"], d["time"], d["kind"], d["body"], d["hash"], Signature(**d["signature"]))


@dataclass
class LedgerReport:
    ok: bool
    entries: int
    problems: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "entries": self.entries, "problems": self.problems}


class Ledger:
    """directory: <home>/ledger. keys: the registry keys that sign entries and the head."""

    def __init__(self, directory: Path, keys: RegistryKeys) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.entries_path = self.directory / "entries.jsonl"
        self.head_path = self.directory / "head.json"
        self.keys = keys
        self._marks: set[int] = set()
        self._marks_read_to = 0
        self._marks_lock = threading.Lock()

    @contextmanager
    def _locked(self) -> Iterator[None]:
        with open(self.directory / "lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def append(self, kind: str, body: dict[str, Any], now: float) -> LedgerEntry:
        """Append one entry (fsynced) and move the signed head to it."""
        with self._locked():
            head = self.head()
            seq, prev = (head["seq"] + 1, head["hash"]) if head else (0, GENESIS)
            digest = LedgerEntry.digest(seq, prev, now, kind, body)
            entry = LedgerEntry(seq, prev, now, kind, body, digest, self.keys.sign(bytes.fromhex(digest)))
            line = json.dumps(entry.as_dict(), sort_keys=True, separators=(",", ":")) + "\n"
            with open(self.entries_path, "a", encoding="utf-8") as f:
                f.write(line)
                f.flush()
                os.fsync(f.fileno())
            head_record = {"seq": seq, "hash": digest}
            signature = self.keys.sign(canonical_bytes(head_record))
            atomic_write(self.head_path, canonical_bytes({**head_record, "signature": signature.as_dict()}))
            return entry

    def entries(self) -> Iterator[LedgerEntry]:
        """Entries in file order, parsed but not verified (use `verify` for that)."""
        if not self.entries_path.exists():
            return
        with open(self.entries_path, encoding="utf-8") as f:
            for number, line in enumerate(f, start=1):
                try:
                    yield LedgerEntry.from_dict(json.loads(line))
                except (ValueError, KeyError, TypeError) as e:
                    raise LedgerCorrupt(f"ledger line {number} is not a valid entry") from e

    def outputs_by_mark(self) -> dict[int, LedgerEntry]:
        """Every output entry, keyed by its watermark payload (one read of the ledger)."""
        return {e.body["mark_id"]: e for e in self.entries() if _names_mark(e.kind, e.body)}

    def find_mark(self, mark_id: int) -> LedgerEntry | None:
        """The output entry whose watermark payload is mark_id, if any."""
        return self.outputs_by_mark().get(mark_id)

    def mark_ids(self) -> set[int]:
        """Every output's mark id. The file only grows, so each call reads just the lines appended
        since the last (a server picks a fresh mark per request; rereading the whole ledger would
        make that cost grow with every output ever made)."""
        with self._marks_lock:
            if not self.entries_path.exists():
                return set()
            with open(self.entries_path, "rb") as f:
                f.seek(self._marks_read_to)
                for line in f:
                    if not line.endswith(b"\n"):
                        break  # an append in progress; read it next time
                    self._marks_read_to += len(line)
                    entry = json.loads(line)
                    if _names_mark(entry.get("kind"), entry.get("body", {})):
                        self._marks.add(entry["body"]["mark_id"])
            return set(self._marks)

    def verify(self) -> LedgerReport:
        """Check the whole chain, every signature and the signed head."""
        problems: list[str] = []
        prev, count, last_hash = GENESIS, 0, GENESIS
        try:
            for expected_seq, entry in enumerate(self.entries()):
                count += 1
                if entry.seq != expected_seq:
                    problems.append(f"entry {expected_seq}: sequence number {entry.seq} (removed or reordered)")
                if entry.prev != prev:
                    problems.append(f"entry {expected_seq}: does not follow the entry before it")
                if LedgerEntry.digest(entry.seq, entry.prev, entry.time, entry.kind, entry.body) != entry.hash:
                    problems.append(f"entry {expected_seq}: content does not match its hash (edited)")
                try:
                    self.keys.verify(bytes.fromhex(entry.hash), entry.signature)
                except (SignatureInvalid, ValueError):
                    problems.append(f"entry {expected_seq}: signature does not verify")
                prev = last_hash = entry.hash
        except LedgerCorrupt as e:
            problems.append(str(e))
        head = self.head()
        if head is None:
            if count:
                problems.append("the signed head is missing")
        else:
            try:
                record = {"seq": head["seq"], "hash": head["hash"]}
                self.keys.verify(canonical_bytes(record), Signature(**head["signature"]))
            except (SignatureInvalid, KeyError, TypeError):
                problems.append("the head's signature does not verify")
            if head.get("seq") != count - 1 or head.get("hash") != last_hash:
                problems.append(f"the signed head names entry {head.get('seq')}, the file ends at {count - 1} "
                                "(entries cut off or added without signing)")
        return LedgerReport(ok=not problems, entries=count, problems=problems)

    def head(self) -> dict[str, Any] | None:
        """The signed head (seq and hash of the last entry), unverified; None for an empty ledger."""
        if not self.head_path.exists():
            return None
        try:
            return json.loads(self.head_path.read_bytes())
        except ValueError as e:
            raise LedgerCorrupt("the ledger head is not valid JSON") from e


def _names_mark(kind: str | None, body: dict[str, Any]) -> bool:
    """Whether an entry is an output that records a watermark payload."""
    return kind == "output" and "mark_id" in body

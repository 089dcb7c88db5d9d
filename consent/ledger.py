"""The append-only ledger: one signed, hash-chained entry per consent change, key change and output.

Each entry holds the hash of the one before it and a signature over its own hash, so an edited,
removed or reordered entry breaks the chain. Entries live in SQLite (`<home>/ledger/ledger.db`) or
on the records' database server (`consent.database`), so an entry and the index over it are written
in one transaction: a crash leaves the append whole or absent, never half a line or a head that
names the wrong entry. Appends are serialised across processes (SQLite's write lock; an advisory
lock on PostgreSQL), so every process extends the one chain.

What the chain alone cannot show, a witness kept apart from it does (`consent.registry.LedgerWitness`,
in the registry's database): the signed sequence number and hash of the last entry. A ledger that is
missing, shorter than the witness, or holds another entry at the witnessed position was deleted,
rolled back or forked, and nothing more is appended to it until `repair` records what was lost.
Auditors keep their own witness: a signed `checkpoint`, checked by `verify(against=...)`.

Costs as the ledger grows (n entries): append, a mark lookup, a subject's latest entry and a mark
reservation are one B-tree lookup or insert each, O(log n); `verify` is O(n), or O(entries since the
checkpoint) from a checkpoint.
"""
from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Protocol

from consent.canonical import canonical_bytes
from consent.database import Database, Session
from consent.errors import CheckpointInvalid, DuplicateKey, LedgerBroken, LedgerCorrupt, SignatureInvalid
from consent.keys import RegistryKeys, Signature

GENESIS = "0" * 64
MARK_BITS = 32
LEDGER_LOCK = "voicekit ledger append"  # serialises appends across processes (consent.database)
_COLUMNS = "seq, prev, time, kind, body, hash, key_id, signature"
ENTRIES_PER_FETCH = 2000  # rows a verify holds at once


@dataclass(frozen=True)
class LedgerEntry:
    seq: int
    prev: str
    time: float
    kind: str  # "genesis", "output", "enrollment", "revocation", "key-rotation", "repair", ...
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

    @classmethod
    def _from_row(cls, row: tuple) -> "LedgerEntry":
        seq, prev, time, kind, body, digest, key_id, signature = row
        return cls(seq, prev, time, kind, json.loads(body), digest, Signature(key_id, signature))

    def check(self, keys: RegistryKeys) -> None:
        """Raise SignatureInvalid unless the content matches the hash and a trusted key signed it."""
        if LedgerEntry.digest(self.seq, self.prev, self.time, self.kind, self.body) != self.hash:
            raise SignatureInvalid(f"entry {self.seq}: content does not match its hash (edited)")
        try:
            keys.verify(bytes.fromhex(self.hash), self.signature)
        except (SignatureInvalid, ValueError) as e:
            raise SignatureInvalid(f"entry {self.seq}: signature does not verify ({e})") from e


@dataclass
class LedgerReport:
    ok: bool
    entries: int
    problems: list[str] = field(default_factory=list)
    repaired: list[str] = field(default_factory=list)  # damage signed repair entries recorded (still reported)
    untrusted_keys: list[str] = field(default_factory=list)
    checked_from: int = 0  # the first entry verified (after a checkpoint, its successor)

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "entries": self.entries, "problems": self.problems, "repaired": self.repaired,
                "untrusted_keys": self.untrusted_keys, "checked_from": self.checked_from}


class Witness(Protocol):
    """A signed record of the ledger's last entry kept apart from it (the registry's)."""

    def read(self) -> tuple[int, str] | None:
        """(seq, hash) witnessed, verified; None if nothing was witnessed yet. Raises LedgerBroken
        if the record does not verify."""
        ...

    def write(self, seq: int, digest: str, replace: bool = False) -> None:
        """Record (seq, hash) unless a later entry is already witnessed (replace: even then; a
        repair of a shortened ledger)."""
        ...


class Ledger:
    """where: the folder <home>/ledger (its SQLite file `ledger.db`) or a server's Database. keys:
    the registry keys that sign entries. witness: where the last entry is witnessed (None:
    nowhere; tests of the chain alone)."""

    def __init__(self, where: Path | Database, keys: RegistryKeys, witness: Witness | None = None) -> None:
        self.keys = keys
        self.witness = witness
        if isinstance(where, Database):
            self.directory, self.db, existed = None, where, True
        else:
            self.directory = Path(where)
            self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
            existed = (self.directory / "ledger.db").exists()
            self.db = Database.file(self.directory / "ledger.db")
        self.db.create(("entries", "marks", "damage"))
        if not existed:
            legacy = self.directory / "entries.jsonl"
            if legacy.exists():
                self._import_jsonl(legacy)
                head = self.head()
                if witness is not None and head is not None:
                    witness.write(head["seq"], head["hash"])

    # -- appending --------------------------------------------------------------------------------
    def append(self, kind: str, body: dict[str, Any], now: float, subject: str | None = None) -> LedgerEntry:
        """Append one signed entry after checking that the chain's end is intact and witnessed;
        raises LedgerBroken (nothing written) when it is not. subject: what a state change is about,
        for `latest` (see the schema)."""
        with self.db.write(serialise=LEDGER_LOCK) as db:
            self._check_end(db)
            entry = self._insert(db, kind, body, now, subject)
        if self.witness is not None:
            self.witness.write(entry.seq, entry.hash)
        return entry

    def _insert(self, db: Session, kind: str, body: dict[str, Any], now: float,
                subject: str | None) -> LedgerEntry:
        last = db.execute("SELECT seq, hash FROM entries ORDER BY seq DESC LIMIT 1").fetchone()
        seq, prev = (last[0] + 1, last[1]) if last else (0, GENESIS)
        body = json.loads(canonical_bytes(body))  # stored as read back: what is hashed is what is kept
        digest = LedgerEntry.digest(seq, prev, now, kind, body)
        entry = LedgerEntry(seq, prev, now, kind, body, digest, self.keys.sign(bytes.fromhex(digest)))
        _store(db, entry, subject)
        return entry

    def _check_end(self, db: Session) -> None:
        """The O(log n) checks every append makes: no recorded damage, the last entry intact, and
        the ledger neither shorter than its witness nor different at the witnessed entry."""
        first = _first_damage(db)
        if first is not None:
            raise LedgerBroken(f"the ledger's chain is broken ({first}); nothing is appended until "
                               "`voicekit ledger repair` records the damage")
        for problem in self._end_problems(db, _last_entry(db)):
            raise LedgerBroken(f"{problem}; nothing is appended until `voicekit ledger repair` records it")

    def _end_problems(self, db: Session, last: LedgerEntry | None) -> list[str]:
        problems = []
        if last is not None:
            try:
                last.check(self.keys)
            except SignatureInvalid as e:
                problems.append(f"the last entry is not intact: {e}")
        witnessed = self.witness.read() if self.witness is not None else None
        if witnessed is None:
            if last is not None and self.witness is not None:
                problems.append(f"the ledger holds entries up to {last.seq} but the registry witnessed none "
                                "(the registry was replaced)")
            return problems
        seq, digest = witnessed
        if last is None:
            problems.append(f"the ledger is empty or missing, but the registry witnessed entry {seq}")
        elif last.seq < seq:
            problems.append(f"the ledger ends at entry {last.seq} but the registry witnessed entry {seq} "
                            "(entries cut off, or an older copy restored)")
        else:
            row = db.execute("SELECT hash FROM entries WHERE seq = :seq", {"seq": seq}).fetchone()
            if row is None or row[0] != digest:
                problems.append(f"entry {seq} is not the one the registry witnessed (the chain was forked or rewritten)")
        return problems

    # -- marks ------------------------------------------------------------------------------------
    def reserve_mark(self, now: float) -> int:
        """A 32-bit watermark payload no output has used or reserved; one atomic insert across
        threads and processes (a collision, about n / 2**32 likely, draws again)."""
        while True:
            candidate = secrets.randbits(MARK_BITS)
            try:
                with self.db.write() as db:
                    db.execute("INSERT INTO marks (mark_id, reserved_at) VALUES (:mark, :now)",
                               {"mark": candidate, "now": now})
                return candidate
            except DuplicateKey:
                continue

    # -- reading ----------------------------------------------------------------------------------
    def head(self) -> dict[str, Any] | None:
        """seq and hash of the last entry; None for an empty ledger."""
        with self.db.read() as db:
            row = db.execute("SELECT seq, hash FROM entries ORDER BY seq DESC LIMIT 1").fetchone()
        return None if row is None else {"seq": row[0], "hash": row[1]}

    def entry(self, seq: int) -> LedgerEntry | None:
        with self.db.read() as db:
            row = db.execute(f"SELECT {_COLUMNS} FROM entries WHERE seq = :seq", {"seq": seq}).fetchone()
        return None if row is None else LedgerEntry._from_row(row)

    def chain_problems(self, entry: LedgerEntry) -> list[str]:
        """What is wrong with the chain where `entry` sits, at O(log n): the entry is checked
        (content against hash, a trusted signature), the entries on either side link to it, the
        ledger's end is intact and is the one its witness names (no rollback or fork), and no
        damage is on record. Every append checks the entry before it, so a chain that passes here
        was whole up to `entry` when written; what changed elsewhere since, only `verify` (O(n))
        finds. Empty when nothing is wrong."""
        problems = []
        try:
            entry.check(self.keys)
        except SignatureInvalid as e:
            problems.append(str(e))
        before = self.entry(entry.seq - 1) if entry.seq > 0 else None
        if (before.hash if before is not None else GENESIS) != entry.prev:
            problems.append(f"entry {entry.seq} does not follow the entry before it")
        after = self.entry(entry.seq + 1)
        if after is not None and after.prev != entry.hash:
            problems.append(f"the entry after {entry.seq} does not follow it")
        with self.db.read() as db:
            first = _first_damage(db)
            if first is not None:
                problems.append(f"the ledger has recorded damage ({first})")
            return problems + self._end_problems(db, _last_entry(db))

    def find_mark(self, mark_id: int) -> LedgerEntry | None:
        """The output entry whose watermark payload is mark_id, if any (unverified: see LedgerEntry.check)."""
        with self.db.read() as db:
            row = db.execute(f"SELECT {_COLUMNS} FROM entries WHERE mark_id = :mark AND kind = 'output' "
                             "ORDER BY seq LIMIT 1", {"mark": mark_id}).fetchone()
        return None if row is None else LedgerEntry._from_row(row)

    def marks_between(self, since: float, until: float, limit: int) -> list[int]:
        """Mark ids of the outputs made between two times (Unix seconds), at most `limit`, through
        the (kind, time) index: O(log n + k)."""
        with self.db.read() as db:
            rows = db.execute("SELECT mark_id FROM entries WHERE kind = 'output' AND time BETWEEN :since AND :until "
                              "AND mark_id IS NOT NULL LIMIT :limit", {"since": since, "until": until, "limit": limit})
            return [row[0] for row in rows]

    def recent_marks(self, limit: int) -> list[int]:
        """Mark ids of the `limit` latest outputs, through the (kind, time) index: O(log n + limit)."""
        with self.db.read() as db:
            rows = db.execute("SELECT mark_id FROM entries WHERE kind = 'output' AND mark_id IS NOT NULL "
                              "ORDER BY time DESC LIMIT :limit", {"limit": limit})
            return [row[0] for row in rows]

    def latest(self, subject: str, kinds: tuple[str, ...] | None = None) -> LedgerEntry | None:
        """The last entry about `subject` (of one of `kinds`), checked: raises SignatureInvalid if
        it was edited or not signed by a trusted key. The registry decides state with it."""
        sql = f"SELECT {_COLUMNS} FROM entries WHERE subject = :subject"
        args: dict[str, Any] = {"subject": subject}
        if kinds:
            sql += f" AND kind IN ({', '.join(f':kind{i}' for i in range(len(kinds)))})"
            args.update((f"kind{i}", kind) for i, kind in enumerate(kinds))
        with self.db.read() as db:
            row = db.execute(sql + " ORDER BY seq DESC LIMIT 1", args).fetchone()
        if row is None:
            return None
        entry = LedgerEntry._from_row(row)
        entry.check(self.keys)
        return entry

    def by_kind(self, kind: str) -> Iterator[LedgerEntry]:
        """Entries of one kind in order (key rotations: a handful; never used for outputs)."""
        with self.db.read() as db:
            rows = db.execute(f"SELECT {_COLUMNS} FROM entries WHERE kind = :kind ORDER BY seq",
                              {"kind": kind}).fetchall()
        for row in rows:
            yield LedgerEntry._from_row(row)

    def entries(self, start: int = 0) -> Iterator[LedgerEntry]:
        """Entries in order from `start`, parsed but not verified (use `verify` for that)."""
        with self.db.scan() as db:
            for row in db.stream(f"SELECT {_COLUMNS} FROM entries WHERE seq >= :start ORDER BY seq",
                                 {"start": start}, ENTRIES_PER_FETCH):
                try:
                    yield LedgerEntry._from_row(row)
                except ValueError as e:
                    raise LedgerCorrupt(f"ledger entry {row[0]} is not valid JSON") from e

    # -- verifying --------------------------------------------------------------------------------
    def verify(self, against: dict[str, Any] | None = None) -> LedgerReport:
        """Check the chain, every signature (trusted keys only), the genesis entry and the
        witness; from `against` (a checkpoint) only what follows it, after checking that the
        ledger still holds the checkpoint's entry. Damage a signed repair entry recorded is
        listed under `repaired` (and no longer fails the report); any other problem fails it and
        stops appends until `repair`."""
        start, prev = 0, GENESIS
        problems: list[str] = []
        if against is not None:
            start, prev = self._checkpoint_start(against) + 1, against["hash"]
        expected, last, first_kind = start, None, None
        acknowledged: set[str] = set()
        recorded: list[str] = []
        imported = False
        try:
            for entry in self.entries(start):
                if entry.seq != expected:
                    problems.append(f"entries {expected}..{entry.seq - 1} are missing (removed)"
                                    if entry.seq > expected else f"entry {entry.seq} is out of order")
                if entry.prev != prev:
                    problems.append(f"entry {entry.seq}: does not follow the entry before it")
                try:
                    entry.check(self.keys)
                except SignatureInvalid as e:
                    problems.append(str(e))
                first_kind = first_kind or entry.kind
                imported = imported or entry.kind == "ledger-imported"
                if entry.kind == "repair":
                    acknowledged.update(entry.body.get("problems", []))
                    recorded += [f"repair entry {entry.seq}: {p}" for p in entry.body.get("problems", [])]
                prev, expected, last = entry.hash, max(expected, entry.seq) + 1, entry
        except LedgerCorrupt as e:
            problems.append(str(e))
        if start == 0 and first_kind not in (None, "genesis", "repair") and not imported:
            problems.append("entry 0 is not the genesis entry that pins this installation's first key")
        end = last if last is not None or start == 0 else self.entry(start - 1)
        with self.db.read() as db:
            problems += [p for p in self._end_problems(db, end) if not p.startswith("the last entry")]
        problems = [p for p in problems if p not in acknowledged]
        if problems:
            self._record_damage(problems)
        total = 0 if end is None else end.seq + 1
        return LedgerReport(not problems, total, problems, recorded, self.keys.untrusted(), start)

    def _record_damage(self, problems: list[str]) -> None:
        with self.db.write() as db:
            db.execute("INSERT INTO damage (id, problems) VALUES (1, :problems) "
                       "ON CONFLICT (id) DO UPDATE SET problems = excluded.problems",
                       {"problems": json.dumps(problems)})

    # -- checkpoints ------------------------------------------------------------------------------
    def checkpoint(self, now: float) -> dict[str, Any]:
        """A signed (seq, hash) of the last entry, for an auditor to keep and check a later ledger
        against (`verify(against=...)`). Raises LedgerBroken for an empty or broken ledger."""
        with self.db.write(serialise=LEDGER_LOCK) as db:
            self._check_end(db)
        head = self.head()
        if head is None:
            raise LedgerBroken("the ledger is empty: there is nothing to checkpoint")
        record = {"format": "voicekit-ledger-checkpoint/1", "seq": head["seq"], "hash": head["hash"], "time": now}
        signature = self.keys.sign(canonical_bytes(record))
        return {**record, "signature": signature.as_dict(), "public_key": self.keys.public_key_hex(signature.key_id)}

    def _checkpoint_start(self, checkpoint: dict[str, Any]) -> int:
        """The checkpoint's seq once it verifies and this ledger still holds its entry."""
        try:
            record = {k: checkpoint[k] for k in ("format", "seq", "hash", "time")}
            self.keys.verify(canonical_bytes(record), Signature(**checkpoint["signature"]))
        except (KeyError, TypeError) as e:
            raise CheckpointInvalid("not a voicekit ledger checkpoint") from e
        except SignatureInvalid as e:
            raise CheckpointInvalid(f"the checkpoint's signature does not verify: {e}") from e
        entry = self.entry(record["seq"])
        if entry is None:
            raise CheckpointInvalid(f"the ledger no longer holds entry {record['seq']}, which the checkpoint "
                                    "names (rolled back or cut)")
        if entry.hash != record["hash"]:
            raise CheckpointInvalid(f"entry {record['seq']} differs from the checkpoint's (the ledger was "
                                    "forked or rewritten since)")
        return int(record["seq"])

    # -- repairing --------------------------------------------------------------------------------
    def repair(self, now: float) -> LedgerEntry | None:
        """Verify in full; if anything is wrong, append a signed `repair` entry that lists every
        problem and the witnessed entry before it, so the damage stays on record and appending can
        go on. Returns the entry, or None when there was nothing to repair."""
        report = self.verify()
        if report.ok:
            return None
        witnessed = self.witness.read() if self.witness is not None else None
        with self.db.write(serialise=LEDGER_LOCK) as db:
            db.execute("DELETE FROM damage")
            entry = self._insert(db, "repair", {
                "problems": report.problems,
                "witnessed_before": None if witnessed is None else {"seq": witnessed[0], "hash": witnessed[1]},
            }, now, None)
        if self.witness is not None:
            self.witness.write(entry.seq, entry.hash, replace=True)
        return entry

    # -- importing a ledger written by voicekit before 0.3 -----------------------------------------
    def _import_jsonl(self, legacy: Path) -> None:
        """Copy `entries.jsonl` into the database as it is (hashes and signatures unchanged, so
        `verify` still judges them); a torn last line from a crash is dropped and recorded in a
        `ledger-imported` entry. Any other unreadable line stops the import (LedgerCorrupt) with
        nothing written, so no entry is lost. The old files are kept, renamed."""
        entries, dropped = [], None
        lines = legacy.read_bytes().splitlines(keepends=True)
        for number, line in enumerate(lines, start=1):
            if number == len(lines) and not line.endswith(b"\n"):
                dropped = f"line {number} of entries.jsonl was cut off by a crash and was dropped"
                break
            try:
                entries.append(LedgerEntry.from_dict(json.loads(line)))
            except (ValueError, KeyError, TypeError) as e:
                self.db.close()
                for suffix in ("", "-wal", "-shm"):
                    Path(f"{self.directory / 'ledger.db'}{suffix}").unlink(missing_ok=True)
                raise LedgerCorrupt(f"line {number} of {legacy} is not a ledger entry; nothing was imported "
                                    "(repair or remove that line, then open again)") from e
        with self.db.write(serialise=LEDGER_LOCK) as db:
            for entry in entries:
                _store(db, entry, _legacy_subject(entry))
                if entry.kind == "output" and "mark_id" in entry.body:
                    db.execute("INSERT INTO marks VALUES (:mark, :time) ON CONFLICT DO NOTHING",
                               {"mark": entry.body["mark_id"], "time": entry.time})
            self._insert(db, "ledger-imported", {"source": "entries.jsonl", "entries": len(entries),
                                                 "dropped": dropped}, entries[-1].time if entries else 0.0, None)
        legacy.rename(legacy.with_suffix(".jsonl.imported"))
        head = self.directory / "head.json"
        if head.exists():
            head.rename(head.with_suffix(".json.imported"))


def _first_damage(db: Session) -> str | None:
    """The first problem `verify` recorded and no repair has cleared, if any."""
    damage = db.execute("SELECT problems FROM damage").fetchone()
    return None if damage is None else json.loads(damage[0])[0]


def _last_entry(db: Session) -> LedgerEntry | None:
    last = db.execute(f"SELECT {_COLUMNS} FROM entries ORDER BY seq DESC LIMIT 1").fetchone()
    return None if last is None else LedgerEntry._from_row(last)


def _store(db: Session, entry: LedgerEntry, subject: str | None) -> None:
    is_output = entry.kind == "output"
    db.execute(
        "INSERT INTO entries (seq, prev, time, kind, body, hash, key_id, signature, subject, voice, mark_id) "
        "VALUES (:seq, :prev, :time, :kind, :body, :hash, :key_id, :signature, :subject, :voice, :mark_id)",
        {"seq": entry.seq, "prev": entry.prev, "time": entry.time, "kind": entry.kind,
         "body": canonical_bytes(entry.body).decode("utf-8"), "hash": entry.hash, "key_id": entry.signature.key_id,
         "signature": entry.signature.value, "subject": subject,
         "voice": entry.body.get("voice") if is_output else None,
         "mark_id": entry.body.get("mark_id") if is_output else None})


def _legacy_subject(entry: LedgerEntry) -> str | None:
    """The subject an old entry would have been written with."""
    body = entry.body
    if entry.kind in ("enrollment", "voice-added", "revocation"):
        return body.get("voice_id")
    if entry.kind in ("api-key-created", "api-key-revoked"):
        return f"api-key {body.get('key_id')}"
    if entry.kind == "voice-access":
        return f"access {body.get('voice_id')} {body.get('owner')}"
    return None

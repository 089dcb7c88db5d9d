"""The ledger as an attacker with write access to VOICEKIT_HOME meets it: every edit, cut, rollback,
deletion and forgery is refused with its reason, and a crash never forks the chain. On the home's
SQLite files and on PostgreSQL, except what only a file can suffer (deleted, an older copy restored)."""
import json
import multiprocessing
import os
import shutil
import signal
import sqlite3
import stat
import subprocess
import sys
import textwrap

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from consent.canonical import canonical_bytes
from consent.errors import CheckpointInvalid, LedgerBroken, LedgerCorrupt
from consent.keys import RegistryKeys, Signature, key_id_of
from consent.ledger import LedgerEntry
from consent.profiles import VoiceProfile
from consent.records import Records
from tests.conftest import sqlite_only
from tests.postgres import edit_records

pytestmark = pytest.mark.usefixtures("database_url")


def _open(home):
    return Records.open(home, None, now=1000.0)


@pytest.fixture
def home(tmp_path, database_url):
    home = tmp_path / "home"
    records = _open(home)
    for i in range(4):
        records.ledger.append("output", {"mark_id": records.ledger.reserve_mark(1.0), "voice": "heart"},
                              now=1001.0 + i)
    return home


def _sql(home, sql, *args):
    return edit_records(home, "ledger/ledger.db", sql, *args)


def _refused(home, problem: str, message: str) -> None:
    """Reopened, the ledger fails verification with `problem` and refuses an append with `message`."""
    records = _open(home)
    report = records.ledger.verify()
    assert not report.ok and any(problem in p for p in report.problems), report.problems
    with pytest.raises(LedgerBroken, match=message):
        records.ledger.append("output", {"mark_id": 5, "voice": "heart"}, now=2000.0)


def _outputs(ledger):
    return [e for e in ledger.entries() if e.kind == "output"]


def test_an_untouched_ledger_verifies_and_starts_with_the_pinned_root(home):
    records = _open(home)
    report = records.ledger.verify()
    assert report.ok and report.entries == 5 and report.problems == []
    genesis = records.ledger.entry(0)
    assert genesis.kind == "genesis" and genesis.body["root_key_id"] == records.keys.current_key_id
    mark = _outputs(records.ledger)[2].body["mark_id"]
    assert records.ledger.find_mark(mark).seq == 3
    assert records.ledger.find_mark(7) is None


def test_an_edited_entry_is_caught_and_appending_stops_until_repair(home):
    body = json.dumps({"mark_id": 1, "voice": "joe"})
    _sql(home, "UPDATE entries SET body = ? WHERE seq = 2", body)
    records = _open(home)
    report = records.ledger.verify()
    assert not report.ok
    assert any("entry 2" in p and "edited" in p for p in report.problems)
    with pytest.raises(LedgerBroken, match="ledger repair"):
        records.ledger.append("output", {"mark_id": 5, "voice": "heart"}, now=2000.0)
    repair = records.ledger.repair(now=2001.0)
    assert repair.kind == "repair" and any("entry 2" in p for p in repair.body["problems"])
    records.ledger.append("output", {"mark_id": 5, "voice": "heart"}, now=2002.0)
    after = records.ledger.verify()
    assert after.ok and any("entry 2" in p for p in after.repaired)


def test_a_removed_entry_is_caught(home):
    _sql(home, "DELETE FROM entries WHERE seq = 2")
    report = _open(home).ledger.verify()
    assert not report.ok and any("missing" in p for p in report.problems)


def test_reordered_entries_are_caught(home):
    _sql(home, "UPDATE entries SET seq = -1 WHERE seq = 2")
    _sql(home, "UPDATE entries SET seq = 2 WHERE seq = 3")
    _sql(home, "UPDATE entries SET seq = 3 WHERE seq = -1")
    assert not _open(home).ledger.verify().ok


def test_entries_cut_off_the_end_are_caught_by_the_registry_witness(home):
    _sql(home, "DELETE FROM entries WHERE seq >= 3")
    _refused(home, "witnessed entry 4", "cut off")


@sqlite_only
def test_rollback_to_an_older_copy_is_refused(home, tmp_path):
    older = tmp_path / "older.db"
    records = _open(home)
    with sqlite3.connect(home / "ledger" / "ledger.db") as db, sqlite3.connect(older) as copy:
        db.backup(copy)
    records.ledger.append("output", {"mark_id": 9, "voice": "heart"}, now=2000.0)
    records.ledger.append("revocation", {"voice_id": "joe", "reason": "x"}, now=2001.0, subject="joe")
    del records
    for suffix in ("", "-wal", "-shm"):
        (home / "ledger" / f"ledger.db{suffix}").unlink(missing_ok=True)
    shutil.copy(older, home / "ledger" / "ledger.db")
    _refused(home, "witnessed entry 6", "older copy restored")


@sqlite_only
@pytest.mark.parametrize("what", ["ledger.db", "ledger folder"])
def test_a_deleted_ledger_is_refused_while_the_registry_has_records(home, what):
    if what == "ledger folder":
        shutil.rmtree(home / "ledger")
    else:
        for suffix in ("", "-wal", "-shm"):
            (home / "ledger" / f"ledger.db{suffix}").unlink(missing_ok=True)
    _refused(home, "empty or missing", "empty or missing")
    records = _open(home)
    repair = records.ledger.repair(now=3000.0)
    assert repair.seq == 0 and "witnessed entry 4" in repair.body["problems"][0]
    assert repair.body["witnessed_before"]["seq"] == 4
    records.ledger.append("output", {"mark_id": 5, "voice": "heart"}, now=3001.0)
    report = _open(home).ledger.verify()
    assert report.ok and report.repaired and report.entries == 2


def test_an_entry_rehashed_and_signed_by_a_foreign_key_is_caught(home, tmp_path):
    records = _open(home)
    entry = records.ledger.entry(3)
    body = {**entry.body, "voice": "joe"}
    digest = LedgerEntry.digest(entry.seq, entry.prev, entry.time, entry.kind, body)
    forged = RegistryKeys.open(tmp_path / "forger").sign(bytes.fromhex(digest))
    _sql(home, "UPDATE entries SET body = ?, hash = ?, key_id = ?, signature = ? WHERE seq = 3",
         json.dumps(body), digest, forged.key_id, forged.value)
    report = _open(home).ledger.verify()
    assert any("signature does not verify" in p for p in report.problems)


def _planted_key(home):
    """An attacker's key pair; only its public half is written into the key folder."""
    private = Ed25519PrivateKey.generate()
    kid = key_id_of(private.public_key())
    raw = private.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    (home / "keys" / f"{kid}.pub").write_text(raw.hex() + "\n")
    return kid, private


def test_a_ledger_re_signed_with_a_planted_key_fails_and_the_key_is_reported(home):
    kid, private = _planted_key(home)
    import base64

    rows = _sql(home, "SELECT seq, time, kind, body FROM entries WHERE kind != 'output' ORDER BY seq")
    _sql(home, "DELETE FROM entries")
    prev = "0" * 64
    for new_seq, (_, time, kind, body) in enumerate(rows):
        digest = LedgerEntry.digest(new_seq, prev, time, kind, json.loads(body))
        value = base64.b64encode(private.sign(bytes.fromhex(digest))).decode()
        _sql(home, "INSERT INTO entries (seq, prev, time, kind, body, hash, key_id, signature) "
             "VALUES (?, ?, ?, ?, ?, ?, ?, ?)", new_seq, prev, time, kind, body, digest, kid, value)
        prev = digest
    records = _open(home)
    report = records.ledger.verify()
    assert not report.ok
    assert any("no trusted key introduced" in p for p in report.problems)
    assert report.untrusted_keys == [kid]
    assert kid not in records.keys.public_keys() and kid in records.keys.untrusted()


def test_a_crash_inside_an_append_leaves_the_chain_whole(home):
    """The writer is killed after inserting the entry but before the transaction commits."""
    script = textwrap.dedent(f"""
        import os, signal
        from consent import ledger as module
        from consent.records import Records
        store = module._store
        def store_then_die(db, entry, subject):
            store(db, entry, subject)
            os.kill(os.getpid(), signal.SIGKILL)
        module._store = store_then_die
        records = Records.open({str(home)!r}, None, now=1000.0)
        records.ledger.append("output", {{"mark_id": 77, "voice": "heart"}}, now=3000.0)
    """)
    process = subprocess.run([sys.executable, "-c", script], cwd=os.getcwd(), capture_output=True)
    assert process.returncode == -signal.SIGKILL
    records = _open(home)
    assert records.ledger.verify().ok and records.ledger.head()["seq"] == 4
    entry = records.ledger.append("output", {"mark_id": 78, "voice": "heart"}, now=3001.0)
    assert entry.seq == 5 and entry.prev == records.ledger.entry(4).hash
    assert records.ledger.verify().ok


@sqlite_only
def test_a_legacy_jsonl_ledger_with_a_torn_last_line_is_imported_and_the_tear_recorded(tmp_path):
    """A home written before the ledger moved to SQLite: entries.jsonl, the last line cut by a crash."""
    home = tmp_path / "old"
    keys = RegistryKeys.open(home / "keys")
    lines, prev = [], "0" * 64
    for seq in range(3):
        body = {"mark_id": 100 + seq, "voice": "heart"}
        digest = LedgerEntry.digest(seq, prev, float(seq), "output", body)
        entry = LedgerEntry(seq, prev, float(seq), "output", body, digest, keys.sign(bytes.fromhex(digest)))
        lines.append(json.dumps(entry.as_dict()) + "\n")
        prev = digest
    (home / "ledger").mkdir()
    (home / "ledger" / "entries.jsonl").write_text("".join(lines) + lines[0][:40])
    heart = VoiceProfile("heart", "house", "heart", "Heart", "Apache-2.0", ("tts",), 0.0)
    signature = heart.sign(keys)
    with sqlite3.connect(home / "registry.db") as db:  # the old registry: signed rows, no ledger entries
        db.execute("CREATE TABLE voices (voice_id TEXT PRIMARY KEY, record BLOB NOT NULL, key_id TEXT NOT NULL, "
                   "signature TEXT NOT NULL, revoked_at REAL, revoked_reason TEXT)")
        db.execute("INSERT INTO voices (voice_id, record, key_id, signature) VALUES ('heart', ?, ?, ?)",
                   (heart.canonical(), signature.key_id, signature.value))
    records = _open(home)
    assert records.registry.check_at("heart", now=10.0) == heart
    assert records.ledger.find_mark(102).seq == 2
    imported = next(records.ledger.by_kind("ledger-imported"))
    assert imported.body["entries"] == 3 and "line 4" in imported.body["dropped"]
    assert records.ledger.verify().ok
    assert (home / "ledger" / "entries.jsonl.imported").exists()
    assert records.ledger.reserve_mark(5.0) not in (100, 101, 102)


def _reserve_many(args):
    home, n = args
    records = Records.open(home, None, now=1000.0)
    return [records.ledger.reserve_mark(1.0) for _ in range(n)]


def test_two_processes_reserving_marks_at_once_never_share_one(home):
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        a, b = pool.map(_reserve_many, [(home, 3000), (home, 3000)])
    assert len(set(a)) == len(a) == 3000 and not set(a) & set(b)
    existing = {e.body["mark_id"] for e in _outputs(_open(home).ledger)}
    assert not existing & (set(a) | set(b))


@sqlite_only
def test_a_checkpoint_verifies_what_follows_and_catches_a_rollback_before_it(home, tmp_path):
    records = _open(home)
    older = tmp_path / "older.db"
    with sqlite3.connect(home / "ledger" / "ledger.db") as db, sqlite3.connect(older) as copy:
        db.backup(copy)
    records.ledger.append("output", {"mark_id": 9, "voice": "heart"}, now=2000.0)
    checkpoint = json.loads(json.dumps(records.ledger.checkpoint(now=2001.0)))
    assert checkpoint["seq"] == 5
    records.ledger.append("output", {"mark_id": 10, "voice": "heart"}, now=2002.0)
    report = records.ledger.verify(against=checkpoint)
    assert report.ok and report.checked_from == 6 and report.entries == 7

    forged = {**checkpoint, "seq": 4}
    with pytest.raises(CheckpointInvalid, match="signature"):
        records.ledger.verify(against=forged)
    _sql(home, "UPDATE entries SET hash = ? WHERE seq = 5", "f" * 64)
    with pytest.raises(CheckpointInvalid, match="forked or rewritten"):
        records.ledger.verify(against=checkpoint)
    del records
    for suffix in ("", "-wal", "-shm"):
        (home / "ledger" / f"ledger.db{suffix}").unlink(missing_ok=True)
    shutil.copy(older, home / "ledger" / "ledger.db")
    with pytest.raises(CheckpointInvalid, match="no longer holds entry 5"):
        _open(home).ledger.verify(against=checkpoint)


def test_a_checkpoint_is_signed_over_its_fields(home):
    checkpoint = _open(home).ledger.checkpoint(now=5.0)
    record = {k: checkpoint[k] for k in ("format", "seq", "hash", "time")}
    RegistryKeys.open(home / "keys").verify(canonical_bytes(record), Signature(**checkpoint["signature"]))


@sqlite_only
def test_a_new_home_is_private(tmp_path):
    home = tmp_path / "fresh"
    _open(home).ledger.append("output", {"mark_id": 1, "voice": "heart"}, now=1.0)
    for folder in (home, home / "keys", home / "ledger"):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder
    for file in [home / "registry.db", *(home / "ledger").glob("ledger.db*"), *(home / "keys").iterdir()]:
        assert stat.S_IMODE(file.stat().st_mode) == 0o600, file


@sqlite_only
def test_a_legacy_ledger_with_a_corrupt_middle_line_is_not_imported_and_nothing_is_lost(tmp_path):
    home = tmp_path / "old"
    keys = RegistryKeys.open(home / "keys")
    body = {"mark_id": 1, "voice": "heart"}
    digest = LedgerEntry.digest(0, "0" * 64, 0.0, "output", body)
    good = json.dumps(LedgerEntry(0, "0" * 64, 0.0, "output", body, digest, keys.sign(bytes.fromhex(digest))).as_dict())
    (home / "ledger").mkdir()
    (home / "ledger" / "entries.jsonl").write_text(good + "\n{not json\n" + good + "\n")
    with pytest.raises(LedgerCorrupt, match="line 2 of .* is not a ledger entry"):
        _open(home)
    assert (home / "ledger" / "entries.jsonl").exists() and not (home / "ledger" / "ledger.db").exists()


def _open_with_house(home):
    heart = VoiceProfile("heart", "house", "heart", "Heart", "Apache-2.0", ("tts",), 0.0)
    records = Records.open(home, None, now=1000.0, house=[heart])
    return records.keys.current_key_id


def _append_many(args):
    home, n = args
    records = Records.open(home, None, now=1000.0)
    return [records.ledger.append("output", {"mark_id": records.ledger.reserve_mark(1.0), "voice": "joe"},
                                  now=2000.0).seq for _ in range(n)]


def test_two_processes_appending_at_once_keep_one_valid_chain(home):
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        a, b = pool.map(_append_many, [(home, 150), (home, 150)])
    assert not set(a) & set(b) and len(set(a) | set(b)) == 300
    records = _open(home)
    report = records.ledger.verify()
    assert report.ok and report.entries == 1 + 4 + 300, report.problems  # genesis, 4 outputs, 300 appended


def test_processes_opening_a_new_home_at_once_pin_one_root_and_one_genesis(tmp_path, database_url):
    home = tmp_path / "new"
    with multiprocessing.get_context("spawn").Pool(4) as pool:
        roots = pool.map(_open_with_house, [home] * 4)
    records = _open(home)
    assert len(set(roots)) == 1 and records.keys.trusted() == {roots[0]}
    kinds = [e.kind for e in records.ledger.entries()]
    assert kinds == ["genesis", "voice-registered"] and records.ledger.verify().ok

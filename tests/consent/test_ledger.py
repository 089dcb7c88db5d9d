import json

import pytest

from consent.keys import RegistryKeys
from consent.ledger import Ledger


@pytest.fixture
def ledger(tmp_path):
    ledger = Ledger(tmp_path / "ledger", RegistryKeys.open(tmp_path / "keys"))
    for i in range(4):
        ledger.append("output", {"mark_id": 1000 + i, "voice": "heart"}, now=float(i))
    return ledger


def _lines(ledger):
    return ledger.entries_path.read_text().splitlines(keepends=True)


def _rewrite(ledger, lines):
    ledger.entries_path.write_text("".join(lines))


def test_an_untouched_ledger_verifies(ledger):
    report = ledger.verify()
    assert report.ok and report.entries == 4 and report.problems == []
    assert ledger.find_mark(1002).seq == 2
    assert ledger.find_mark(7) is None


def test_an_edited_entry_is_caught(ledger):
    lines = _lines(ledger)
    entry = json.loads(lines[1])
    entry["body"]["voice"] = "joe"
    lines[1] = json.dumps(entry) + "\n"
    _rewrite(ledger, lines)
    report = ledger.verify()
    assert not report.ok
    assert any("entry 1" in p and "edited" in p for p in report.problems)


def test_a_removed_entry_is_caught(ledger):
    lines = _lines(ledger)
    _rewrite(ledger, lines[:1] + lines[2:])
    assert not ledger.verify().ok


def test_reordered_entries_are_caught(ledger):
    lines = _lines(ledger)
    lines[1], lines[2] = lines[2], lines[1]
    _rewrite(ledger, lines)
    assert not ledger.verify().ok


def test_entries_cut_off_the_end_are_caught_by_the_signed_head(ledger):
    _rewrite(ledger, _lines(ledger)[:-1])
    report = ledger.verify()
    assert not report.ok
    assert any("head" in p for p in report.problems)


def test_a_rehashed_entry_without_our_key_is_caught(ledger, tmp_path):
    from consent.ledger import LedgerEntry

    lines = _lines(ledger)
    entry = json.loads(lines[3])
    entry["body"]["voice"] = "joe"
    entry["hash"] = LedgerEntry.digest(entry["seq"], entry["prev"], entry["time"], entry["kind"], entry["body"])
    entry["signature"] = RegistryKeys.open(tmp_path / "forger").sign(bytes.fromhex(entry["hash"])).as_dict()
    lines[3] = json.dumps(entry) + "\n"
    _rewrite(ledger, lines)
    report = ledger.verify()
    assert any("signature does not verify" in p for p in report.problems)

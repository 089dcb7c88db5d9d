"""An auditor's detection at any ledger size: the record is found through the index, the p-value
does not depend on how many outputs there are, a time window adds a calibrated test of that
window's outputs, and the ledger work per request does not grow with the ledger.

Everything here is deterministic: a fixed key, fixed marks, heart's fixed rendering, FFmpeg's MP3."""
import numpy as np
import pytest

from consent.profiles import VoiceProfile
from consent.records import Records
from detection import audit
from detection.audit import inspect_audio, window_marks
from detection.edits import ALL_EDITS
from detection.errors import WindowTooWide
from detection.gate import RELEASE_P_VALUE
from detection.watermark import KeyedWatermark, WatermarkKey
from detection.watermark.payload import candidates, encode
from tests.conftest import HUMAN_RECORDING

KEY = WatermarkKey(b"a" * 32)
MARK = 0x5EED1234
RATE = 24000


def _records(tmp_path, outputs: int, name: str = "home"):
    """A home whose ledger holds `outputs` output entries at times 1000 + i, MARK's at 2000."""
    records = Records.open(tmp_path / name, None, now=0.0)
    ledger = records.ledger
    with ledger.db.write() as db:
        for i in range(outputs):
            ledger._insert(db, "output", {"mark_id": 10_000 + i, "voice": "heart"}, 1000.0 + i, None)
        entry = ledger._insert(db, "output", {"mark_id": MARK, "voice": "joe"}, 2000.0, None)
    ledger.witness.write(entry.seq, entry.hash)
    return records


@pytest.fixture(scope="module")
def marked(heart_samples):
    return KeyedWatermark([KEY]).embed(heart_samples, RATE, MARK)


def _edited(samples, name):
    edit = next(e for e in ALL_EDITS if e.name == name)
    return edit.apply(samples, RATE, np.random.default_rng(0))


def test_list_decoding_names_a_mark_from_noisy_soft_bits():
    rng = np.random.default_rng(3)
    found = 0
    for _ in range(40):
        mark = int(rng.integers(0, 2 ** 32))
        soft = encode(mark) + rng.normal(0, 0.9, 64)  # about one bit in eight wrong
        found += mark in candidates(soft)
    assert found >= 32


def test_a_marked_file_is_attributed_through_the_index_whatever_the_ledger_size(tmp_path, marked):
    wm = KeyedWatermark([KEY])
    small, large = _records(tmp_path, 10, "small"), _records(tmp_path, 20_000, "large")
    a = inspect_audio(marked, RATE, wm, small.ledger, small.keys)
    b = inspect_audio(marked, RATE, wm, large.ledger, large.keys)
    assert a.watermarked and a.mark_id == MARK == b.mark_id
    assert a.p_value == b.p_value
    assert b.provenance["voice"] == "joe" and b.provenance["signature_valid"]


def test_a_time_window_finds_an_edited_mark_the_blind_tests_miss(tmp_path, heart_samples):
    """A faint output of keyed-v1 (no invariant layer, 3/4 of the payload gain) through MP3 32 kbps:
    its payload layer is too weak for the blind tests, and a window's fixed set of marks still
    finds it."""
    old_output = KeyedWatermark([KEY], strength=0.06, invariant_strength=0.0).embed(heart_samples, RATE, MARK)
    wm = KeyedWatermark([KEY])
    records = _records(tmp_path, 2_000)
    coded, rate = _edited(old_output, "mp3_32k")
    plain = inspect_audio(coded, rate, wm, records.ledger, records.keys)
    windowed = inspect_audio(coded, rate, wm, records.ledger, records.keys,
                             window_marks(records.ledger, 1500.0, 2500.0))
    assert not plain.watermarked
    assert windowed.watermarked and windowed.mark_id == MARK


def test_a_human_recording_is_not_ours_even_against_a_wide_window(tmp_path):
    from detection.decoding import decode_file

    samples, rate = decode_file(HUMAN_RECORDING)
    records = _records(tmp_path, 5_000)
    finding = inspect_audio(samples, rate, KeyedWatermark([KEY]), records.ledger, records.keys,
                            window_marks(records.ledger, 0.0, 3000.0))
    assert not finding.watermarked and finding.p_value > RELEASE_P_VALUE and finding.mark_id is None


def test_a_window_wider_than_the_limit_is_refused(tmp_path, monkeypatch):
    records = _records(tmp_path, 30)
    monkeypatch.setattr(audit, "MAX_WINDOW_OUTPUTS", 20)
    with pytest.raises(WindowTooWide, match="more than 20 outputs"):
        window_marks(records.ledger, 0.0, 5000.0)


def _ledger_steps(records, operation) -> int:
    """SQLite virtual-machine instructions the ledger's connection runs for `operation` (a scan of
    the entries would cost at least one per entry)."""
    steps = 0

    def count():
        nonlocal steps
        steps += 1
        return 0

    with records.ledger.db.read() as session:  # this thread's connection, which the operation uses
        db = session.connection
    db.set_progress_handler(count, 1)
    try:
        operation()
    finally:
        db.set_progress_handler(None, 1)
    return steps


def test_ledger_work_per_request_does_not_grow_with_the_ledger(tmp_path, marked):
    wm = KeyedWatermark([KEY])
    costs = {}
    for n in (10, 20_000):
        records = _records(tmp_path, n, f"n{n}")
        records.registry.register(VoiceProfile("heart", "house", "heart", "Heart", "Apache-2.0", ("tts",), 0.0),
                                  now=3000.0)

        def request():
            records.registry.check_at("heart", now=3001.0)
            mark = records.ledger.reserve_mark(3001.0)
            records.ledger.append("output", {"mark_id": mark, "voice": "heart"}, now=3001.0)
            inspect_audio(marked, RATE, wm, records.ledger, records.keys)

        request()  # warm the statement cache
        costs[n] = _ledger_steps(records, request)
    assert costs[20_000] <= 1.2 * costs[10], costs


def test_an_audit_of_a_pitch_shifted_file_finds_it_and_says_by_how_much(tmp_path, studio):
    speech = studio.engine("joe").synthesize(
        "Turn left at the second traffic light, then continue straight for about half a mile. "
        "The museum will be closed on Monday for the installation of a new exhibition.")
    shifted, rate = next(e for e in ALL_EDITS if e.name == "pitch_down_3").apply(
        KeyedWatermark([KEY]).embed(speech, RATE, MARK), RATE, np.random.default_rng(0))
    records = _records(tmp_path, 10)
    finding = inspect_audio(shifted, rate, KeyedWatermark([KEY]), records.ledger, records.keys).as_dict()
    assert finding["watermarked"] and finding["p_value"] <= RELEASE_P_VALUE
    assert abs(finding["pitch_cents"] + 300) <= 35 and abs(finding["time_scale"] - 1) <= 0.02

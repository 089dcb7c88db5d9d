"""The invariant layer of keyed-v2: found after pitch, tempo and speed changes by the tools a person
stripping the mark would use (SoX), with the factors read off; v1 outputs still verify."""
import numpy as np
import pytest
import soxr

from detection import edits
from detection.gate import RELEASE_P_VALUE
from detection.watermark import KeyedWatermark, WatermarkKey
from detection.watermark import invariant

KEY = WatermarkKey(b"i" * 32)
OTHER_KEY = WatermarkKey(b"j" * 32)
MARK = 0x7E11A
WM = KeyedWatermark([KEY])
# (edit, time scale, pitch shift in cents) that the edit applies
EDIT_CLASSES = [("pitch_up_1", 1.0, 100.0), ("pitch_down_3", 1.0, -300.0), ("tempo_0.85", 0.85, 0.0),
                ("tempo_1.15", 1.15, 0.0), ("speed_0.9", 0.9, 1200 * np.log2(0.9)),
                ("speed_1.15", 1.15, 1200 * np.log2(1.15))]


@pytest.fixture(scope="module")
def speech(studio):
    """About 12 s of unmarked speech from the heart engine at 24 kHz."""
    return studio.engine("heart").synthesize(
        "Scientists have discovered a new species of frog in the cloud forests of Ecuador, and the "
        "committee voted to extend the deadline until the end of the month. Please remember to bring your passport.")


@pytest.fixture(scope="module")
def marked(speech):
    return WM.embed(speech, 24000, MARK)


@pytest.mark.parametrize("name, scale, cents", EDIT_CLASSES, ids=[c[0] for c in EDIT_CLASSES])
def test_the_mark_is_found_after_the_edit_and_the_edit_is_measured(marked, name, scale, cents):
    edited, rate = edits.by_name(name).apply(marked, 24000, np.random.default_rng(7))
    verdict = WM.detect(edited, rate)
    assert verdict.p_value <= RELEASE_P_VALUE, f"{name}: p={verdict.p_value:.3g}"
    assert verdict.key_index == 0
    assert abs(verdict.scale - scale) <= 0.02 and abs(verdict.pitch_cents - cents) <= 35, verdict


def test_a_payload_read_after_a_speed_change_is_the_mark_or_nothing(marked):
    for name in ("speed_0.9", "speed_1.15"):
        edited, rate = edits.by_name(name).apply(marked, 24000, np.random.default_rng(7))
        assert WM.detect(edited, rate).mark_id in (MARK, None)


def test_reverb_is_survived(marked):
    edited, rate = edits.by_name("reverb").apply(marked, 24000, np.random.default_rng(7))
    assert WM.detect(edited, rate).p_value <= RELEASE_P_VALUE


def test_a_wrong_key_finds_nothing_in_shifted_or_stretched_audio(marked, speech):
    other = KeyedWatermark([OTHER_KEY])
    for name in ("pitch_up_1", "tempo_0.85"):
        edited, rate = edits.by_name(name).apply(marked, 24000, np.random.default_rng(7))
        assert other.detect(edited, rate).p_value > RELEASE_P_VALUE
    assert WM.detect(speech, 24000).p_value > RELEASE_P_VALUE


def test_v1_outputs_still_verify_and_are_found(speech):
    v1 = KeyedWatermark([KEY], invariant_strength=0.0)
    assert (v1.name, WM.name) == ("keyed-v1", "keyed-v2")
    old = v1.embed(speech, 24000, MARK)
    at_16k = soxr.resample(old, 24000, invariant.RATE)
    assert invariant.scan(at_16k, [KEY]).p_value > RELEASE_P_VALUE  # v1 has no invariant layer...
    assert WM.verify(old, 24000, MARK).p_value <= RELEASE_P_VALUE  # ...and is verified all the same
    verdict = WM.detect(old, 24000)
    assert verdict.p_value <= RELEASE_P_VALUE and verdict.mark_id == MARK


def test_the_scan_correlation_is_the_sum_it_stands_for():
    """The FFT correlation against a direct sum over the lattice at a few offsets and shifts."""
    rng = np.random.default_rng(0)
    cells = rng.standard_normal((invariant.PERIOD_FRAMES, invariant.N_BANDS))
    signs = np.where(rng.random((invariant.PERIOD_BLOCKS, invariant.ELEMENTS)) < 0.5, -1.0, 1.0)
    corr = invariant._correlate(cells, invariant._lattice(signs))
    for offset, shift in ((0, 0), (5, -3), (63, invariant.MAX_SHIFT), (17, -invariant.MAX_SHIFT)):
        direct = sum(signs[m, e] * cells[(m * invariant.BLOCK - offset) % invariant.PERIOD_FRAMES,
                                          invariant.MAX_SHIFT + shift + e * invariant.BANDS_PER_ELEMENT]
                     for m in range(invariant.PERIOD_BLOCKS) for e in range(invariant.ELEMENTS))
        assert corr[offset, shift + invariant.MAX_SHIFT] == pytest.approx(direct)


def test_the_test_count_depends_on_the_length_alone(marked, speech):
    x = np.asarray(speech[: 16000 * 8], np.float64)
    assert invariant.scan(x, [KEY]).n_tests == invariant.scan(np.asarray(marked[: 16000 * 8], np.float64),
                                                               [KEY]).n_tests
    assert invariant.scan(np.zeros(1000), [KEY]).p_value == 1.0

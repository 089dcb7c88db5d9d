"""Each edit class at one strength, on one ~6 s clip: the mark is still matched to its ledger record.

Strengths are the AudioSeal evaluation's where the keyed mark holds them on short clips; for the
classes where it does not yet (low-pass 500 Hz, pink noise 0.1, white noise 0.05), a milder strength
is tested here and the evaluation strength is measured by bench/watermark.py (see bench/README.md).
"""
import numpy as np
import pytest

from detection import edits
from detection.gate import RELEASE_P_VALUE
from detection.watermark import KeyedWatermark, WatermarkKey

WM = KeyedWatermark([WatermarkKey(b"r" * 32)])
MARK = 0x0BADCAFE
ISSUED = [MARK] + list(range(1, 100))
EVALUATION_STRENGTH = [e for e in edits.AUDIOSEAL_EDITS + edits.EXTRA_EDITS if e.name not in {"lowpass", "pink_noise", "white_noise"}]
MILDER = [edits.filtered("lowpass", 1000.0), edits.noise("pink", 0.01), edits.noise("white", 0.005)]


@pytest.fixture(scope="module")
def marked(studio):
    speech = studio.engine("heart").synthesize(
        "Scientists have discovered a new species of frog in the cloud forests of Ecuador, "
        "and the committee voted to extend the deadline until the end of the month.")
    return WM.embed(speech, 24000, MARK)


@pytest.mark.parametrize("edit", EVALUATION_STRENGTH + MILDER, ids=lambda e: e.name)
def test_the_mark_survives(marked, edit):
    edited, rate = edit.apply(marked, 24000, np.random.default_rng(7))
    verdict = WM.match(edited, rate, ISSUED)
    assert verdict.p_value <= RELEASE_P_VALUE, f"{edit.name}: p={verdict.p_value:.3g}"
    assert verdict.mark_id == MARK

import numpy as np
import pytest

from detection.errors import GateRefused
from detection.gate import ReleaseGate
from detection.watermark import KeyedWatermark, WatermarkKey
from voicekit import audio

WM = KeyedWatermark([WatermarkKey(b"g" * 32)])


@pytest.mark.parametrize("fmt", ["wav", "flac", "ogg", "mp3"])
def test_marked_audio_passes_in_every_format(heart_samples, fmt):
    encoded = audio.encode(WM.embed(heart_samples, 24000, 0xABCDEF12), 24000, fmt)
    verdict = ReleaseGate(WM).check(encoded, 0xABCDEF12)
    assert verdict.mark_id == 0xABCDEF12 and verdict.p_value <= 1e-6


def test_unmarked_audio_is_refused(heart_samples):
    with pytest.raises(GateRefused, match="mark not found"):
        ReleaseGate(WM).check(audio.encode(heart_samples, 24000, "wav"), 0xABCDEF12)


def test_audio_carrying_another_mark_is_refused(heart_samples):
    encoded = audio.encode(WM.embed(heart_samples, 24000, 1), 24000, "wav")
    with pytest.raises(GateRefused):
        ReleaseGate(WM).check(encoded, 2)


def test_a_mark_removed_by_filtering_is_refused(heart_samples):
    from scipy.signal import butter, sosfilt

    marked = WM.embed(heart_samples, 24000, 5)
    stripped = sosfilt(butter(8, 180, "lowpass", fs=24000, output="sos"), marked).astype(np.float32)
    with pytest.raises(GateRefused):
        ReleaseGate(WM).check(audio.encode(stripped, 24000, "wav"), 5)


def test_bytes_that_are_not_audio_fail_closed():
    with pytest.raises(GateRefused, match="could not run"):
        ReleaseGate(WM).check(b"not audio at all", 5)

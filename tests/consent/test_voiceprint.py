"""Reference quality and speaker embeddings, on the shipped human recording and engine voices."""
import numpy as np
import pytest
import soundfile as sf

from consent.voiceprint import SpeakerEncoder, similarity, speech_quality, voiced_audio
from tests.conftest import HUMAN_RECORDING
from voicekit.audio import resample


@pytest.fixture(scope="module")
def human():
    samples, rate = sf.read(HUMAN_RECORDING, dtype="float32")
    return resample(samples, rate, 16000)


def test_clean_human_speech_has_voice_and_a_good_snr(human):
    q = speech_quality(human)
    assert 20 < q.voiced_s <= q.duration_s and q.snr_db > 25 and q.clipped_fraction == 0


def test_silence_noise_and_clipping_are_measured(human):
    rng = np.random.default_rng(0)
    assert speech_quality(np.zeros(16000 * 5, np.float32)).voiced_s == 0
    noisy = human + rng.normal(0, 0.1, len(human)).astype(np.float32)
    assert speech_quality(noisy).snr_db < 10
    clipped = np.clip(human * 20, -1, 1)
    assert speech_quality(clipped).clipped_fraction > 0.01


def test_same_voice_is_similar_and_other_voices_are_not(human, heart_samples):
    encoder = SpeakerEncoder()
    first, second = encoder.embed(voiced_audio(human[: 15 * 16000])), encoder.embed(voiced_audio(human[15 * 16000:]))
    heart = encoder.embed(voiced_audio(resample(heart_samples, 24000, 16000)))
    assert first.shape == (256,) and abs(np.linalg.norm(first) - 1) < 1e-3
    assert similarity(first, second) > 0.85
    assert similarity(first, heart) < 0.75


def test_no_library_warning_reaches_the_terminal():
    """webrtcvad imports the deprecated pkg_resources and resemblyzer a deprecated scipy namespace;
    `voicekit enroll` used to print the first on every run."""
    import subprocess
    import sys

    code = ("import numpy as np\nfrom consent.voiceprint import SpeakerEncoder, voiced_frames\n"
            "x = np.random.default_rng(0).standard_normal(32000).astype(np.float32) * 0.1\n"
            "voiced_frames(x); SpeakerEncoder().embed(x)\n")
    ran = subprocess.run([sys.executable, "-W", "default", "-c", code], capture_output=True, text=True, timeout=120)
    assert ran.returncode == 0 and ran.stderr == "", ran.stderr

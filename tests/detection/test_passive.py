"""The passive synthetic-speech detector: advisory, trained by bench/train_passive.py, shipped small."""
import hashlib
import json

import numpy as np
import pytest

from detection.decoding import decode_file
from detection.errors import PassiveModelMissing
from detection.passive import MANIFEST, MODEL, PassiveDetector, detector, features
from tests.conftest import HUMAN_RECORDING

HELD_OUT_HUMAN = HUMAN_RECORDING.with_name("human-librivox-sense-and-sensibility-0870.wav")


def test_the_shipped_model_is_the_one_its_manifest_describes_and_is_small():
    manifest = json.loads(MANIFEST.read_text())
    assert hashlib.sha256(MODEL.read_bytes()).hexdigest() == manifest["model_sha256"]
    assert MODEL.stat().st_size < 200_000 and manifest["trained_by"].startswith("python bench/train_passive.py")
    assert {"human", "synthetic"} == {d["class"] for d in manifest["data"].values()}


def test_features_do_not_depend_on_level_or_sample_rate():
    from detection.watermark.residual import resample

    samples, rate = decode_file(HELD_OUT_HUMAN)
    base = features(samples, rate)
    assert base.shape[1] == 40 and len(base) > 200
    quieter = features(samples * 0.05, rate)
    upsampled = features(resample(samples, rate, 44100), 44100)
    assert np.abs(quieter.mean(0) - base.mean(0)).max() < 0.05
    assert np.abs(upsampled.mean(0) - base.mean(0)).max() < 0.25


def test_our_voices_read_as_synthetic_and_a_held_out_human_does_not(studio):
    for voice in ("heart", "joe"):
        engine = studio.engine(voice)
        text = "Nothing in this sentence was in the detector's training data, as far as anyone knows."
        assert detector().score(engine.synthesize(text), engine.sample_rate).synthetic, voice
    samples, rate = decode_file(HELD_OUT_HUMAN)
    assert detector().score(samples, rate).synthetic is False


def test_too_little_speech_gets_no_score():
    verdict = detector().score(np.zeros(16000, np.float32), 16000)
    assert verdict.score is None and verdict.synthetic is None and verdict.as_dict()["voiced_s"] == 0.0


def test_a_missing_model_names_the_command_that_makes_one(tmp_path):
    with pytest.raises(PassiveModelMissing, match="bench/train_passive.py"):
        PassiveDetector.load(tmp_path / "absent.npz")


def test_every_release_records_the_passive_score_of_what_it_released(studio):
    result = studio.speak("The ledger keeps what the passive detector thought of this.", voice="joe", format="mp3")
    recorded = result.provenance["body"]["passive"]
    assert recorded["synthetic"] is True and recorded["voiced_s"] > 1.0
    found = studio.detect(result.encoded)
    assert found.provenance["passive"] == recorded

"""Cloning: a fitted conversion moves the base voice towards a real person, and a clone speaks only
through the guarded path."""
import numpy as np
import pytest
import soundfile as sf

from consent.statement import StatementChecker
from consent.voiceprint import SpeakerEncoder, similarity, voiced_audio
from tests.conftest import HUMAN_RECORDING
from voicekit.audio import resample
from voicekit.cloning.conversion import VoiceConversion, convert_f0, convert_vocoder_frames
from voicekit.cloning.engine import ClonedVoice, WorldRenderer, renderer_for
from voicekit.cloning.fit import fit_conversion, split_held_out
from voicekit.errors import EngineUnavailable

TEXT = "The children ran across the meadow while their dog chased the butterflies."
UNSEEN = ("A cold wind blew from the north, and the fishermen pulled their boats onto the sand.",
          "The museum was quiet on Mondays, so the guards had time to talk about football.",
          "Every morning the baker opened his shop before the first bus came down the hill.")


@pytest.fixture(scope="module")
def encoder():
    return SpeakerEncoder()


@pytest.fixture(scope="module")
def allison_fit(studio, encoder):
    """The base voice fitted to the shipped human recording (Allison Smith, 30 s, 8 kHz)."""
    samples, rate = sf.read(HUMAN_RECORDING, dtype="float32")
    fitting, held_out = split_held_out(voiced_audio(resample(samples, rate, 16000)))
    conversion, report = fit_conversion(renderer_for(studio.engine("heart")), fitting, held_out, encoder.embed,
                                        StatementChecker().transcribe)
    return conversion, report, encoder.embed(held_out)


def test_identity_conversion_changes_nothing(studio):
    heart = studio.engine("heart")
    frames = heart.vocoder_frames(TEXT)
    converted = heart.render([convert_vocoder_frames(f, VoiceConversion()) for f in frames])
    assert np.array_equal(converted, heart.synthesize(TEXT))


def test_pitch_mapping_shifts_voiced_frames_only():
    f0 = np.array([0.0, 100.0, 200.0, 0.0], np.float32)
    out = convert_f0(f0, VoiceConversion(f0_shift=12.0))
    assert out[0] == 0 and out[3] == 0 and np.allclose(out[1:3], [200.0, 400.0], rtol=1e-4)


def test_the_fit_moves_towards_the_person_on_held_out_speech(allison_fit):
    conversion, report, _ = allison_fit
    assert report.heldout_secs_fitted > report.heldout_secs_base + 0.05
    assert report.wer_fitted <= report.wer_base + 0.05
    assert conversion != VoiceConversion()


def test_a_cloned_voice_sounds_more_like_the_person_and_less_like_the_base(studio, encoder, allison_fit):
    """On sentences the fit never heard, against the person's held-out speech."""
    conversion, _, person = allison_fit
    heart, clone = studio.engine("heart"), ClonedVoice(renderer_for(studio.engine("heart")), conversion)
    base_embedding = encoder.embed(resample(np.concatenate([heart.synthesize(t) for t in UNSEEN]), 24000, 16000))
    clone_embedding = encoder.embed(resample(np.concatenate([clone.synthesize(t) for t in UNSEEN]), 24000, 16000))
    assert similarity(clone_embedding, person) > similarity(base_embedding, person) + 0.03
    assert similarity(clone_embedding, base_embedding) < 0.95


def test_a_profile_without_a_fitted_voice_cannot_speak():
    with pytest.raises(EngineUnavailable, match="no fitted voice"):
        ClonedVoice.from_fitted(None, lambda name: None)


def test_other_engines_convert_through_world(studio):
    """joe has no vocoder frames to reach: WORLD analyses, converts and resynthesises its speech."""
    from voicekit.cloning.fit import median_log_f0

    renderer = renderer_for(studio.engine("joe"))
    assert isinstance(renderer, WorldRenderer)
    prepared = renderer.prepare(TEXT)
    plain = resample(renderer.render(prepared, VoiceConversion()), 22050, 16000)
    octave_up = resample(renderer.render(prepared, VoiceConversion(f0_shift=12.0, warp=1.05, eq_1k_db=3.0)),
                         22050, 16000)
    assert abs(median_log_f0(octave_up)[0] - median_log_f0(plain)[0] - np.log(2)) < 0.1


def test_a_world_base_must_be_clearly_nearer_to_be_chosen(studio):
    from voicekit.cloning.engine import WORLD_MARGIN, choose_base

    renderers = {"heart": renderer_for(studio.engine("heart")), "joe": renderer_for(studio.engine("joe"))}
    assert choose_base({"heart": 0.60, "joe": 0.60 + WORLD_MARGIN - 0.01}, renderers) == "heart"
    assert choose_base({"heart": 0.60, "joe": 0.60 + WORLD_MARGIN + 0.01}, renderers) == "joe"

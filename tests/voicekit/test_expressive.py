"""SSML and prosody, measured on the released audio (marked, gated, decoded), never assumed."""
import numpy as np
import pytest

from consent.errors import UnknownVoice, VoiceRevoked
from voicekit.audio import frame_levels_db, resample
from voicekit.cloning.fit import median_log_f0
from voicekit.errors import BadInput, EmptyText
from voicekit.text.ssml import SsmlError

SENTENCE = "The quick brown fox jumps over the lazy dog near the riverbank."


def ssml(body: str) -> str:
    return f"<speak>{body}</speak>"


def median_semitones(result) -> float:
    return 12 * median_log_f0(resample(result.audio, result.sample_rate, 16000))[0] / np.log(2)


def longest_silence_s(result, frame_s=0.01, floor_db=-50.0) -> float:
    quiet = np.concatenate([[False], frame_levels_db(result.audio, result.sample_rate, frame_s) < floor_db, [False]])
    edges = np.flatnonzero(np.diff(quiet.astype(int)))  # starts and ends of quiet runs, alternating
    return float(np.max(edges[1::2] - edges[::2], initial=0)) * frame_s


def test_a_one_second_break_is_about_one_second_of_silence(studio):
    with_break = studio.speak(ssml('Before the pause.<break time="1s"/>After the pause.'), ssml=True)
    assert 1.0 <= longest_silence_s(with_break) <= 1.15


@pytest.mark.parametrize("voice", ["heart", "joe"])
def test_prosody_pitch_plus_four_semitones_raises_median_f0_by_about_four(studio, voice):
    neutral = studio.speak(SENTENCE, voice=voice)
    higher = studio.speak(ssml(f'<prosody pitch="+4st">{SENTENCE}</prosody>'), voice=voice, ssml=True)
    assert median_semitones(higher) - median_semitones(neutral) == pytest.approx(4.0, abs=0.6)


def test_rate_changes_duration_not_pitch(studio):
    neutral = studio.speak(SENTENCE)
    faster = studio.speak(SENTENCE, rate=1.5)
    slower = studio.speak(ssml(f'<prosody rate="x-slow">{SENTENCE}</prosody>'), ssml=True)
    assert len(faster.audio) / len(neutral.audio) == pytest.approx(1 / 1.5, abs=0.1)
    assert len(slower.audio) / len(neutral.audio) == pytest.approx(1 / 0.6, abs=0.25)
    # The network's pace control raises pitch a little when it speeds up (about 1 st at 1.5x), as people do.
    assert abs(median_semitones(faster) - median_semitones(neutral)) < 1.5


def test_volume_in_decibels_is_relative_within_the_output(studio):
    """The output as a whole is set to the loudness target; SSML volume shapes its parts."""
    both = studio.speak(ssml(f'{SENTENCE}<break time="1s"/><prosody volume="-6dB">{SENTENCE}</prosody>'), ssml=True)
    rate, audio = both.sample_rate, both.audio
    silent = np.flatnonzero(np.convolve(np.abs(audio) < 1e-3, np.ones(rate // 2), "same") >= rate // 2 - 1)
    middle = int(np.median(silent))
    ratio_db = 20 * np.log10(np.sqrt(np.mean(audio[middle:] ** 2)) / np.sqrt(np.mean(audio[:middle] ** 2)))
    assert ratio_db == pytest.approx(-6.0, abs=1.0)


def test_say_as_is_read_as_words(studio):
    result = studio.speak(ssml('<say-as interpret-as="cardinal">1250</say-as> people came.'), ssml=True)
    heard = studio_transcribe(result)
    assert "thousand" in heard and "hundred" in heard


def studio_transcribe(result) -> str:
    from consent.statement import StatementChecker

    return StatementChecker().transcribe(resample(result.audio, result.sample_rate, 16000))


def test_marks_are_reported_where_they_fall(studio):
    result = studio.speak(ssml('<mark name="start"/>Hello.<break time="1s"/><mark name="after"/>Goodbye.'), ssml=True)
    assert result.marks["start"] == 0.0
    assert 1.0 < result.marks["after"] < len(result.audio) / result.sample_rate


def test_every_voice_in_the_document_is_consent_checked(studio):
    result = studio.speak(ssml('Heart speaks. <voice name="joe">Joe answers.</voice>'), ssml=True)
    assert list(result.provenance["body"]["other_voices"]) == ["joe"]
    with pytest.raises(UnknownVoice):
        studio.speak(ssml('Hello. <voice name="profile:nobody">Not enrolled.</voice>'), ssml=True)


def test_a_revoked_voice_mid_document_is_refused(tmp_path):
    from voicekit import Studio

    studio = Studio(home=tmp_path)
    studio.revoke("joe", reason="licence withdrawn")
    with pytest.raises(VoiceRevoked):
        studio.speak(ssml('Hello. <voice name="joe">Revoked.</voice>'), ssml=True)


@pytest.mark.parametrize("kwargs, error, message", [
    ({"text": "<speak><break time='1s'/></speak>", "ssml": True}, EmptyText, "nothing to say"),
    ({"text": "<speak>x", "ssml": True}, SsmlError, "line 1"),
    ({"text": "hello", "rate": 3.0}, BadInput, "rate 3 is outside"),
    ({"text": "hello", "pitch": -20.0}, BadInput, "pitch -20 semitones"),
])
def test_bad_requests_are_refused_before_any_audio(studio, kwargs, error, message):
    before = sum(1 for _ in studio.ledger.entries())
    with pytest.raises(error, match=message):
        studio.speak(**kwargs)
    assert sum(1 for _ in studio.ledger.entries()) == before


def test_a_given_pronunciation_replaces_heart_s_own(studio):
    from voicekit import prosody

    heart = studio.engine("heart")
    own = prosody.render(heart, "tomato").samples
    as_given = prosody.render(heart, "tomato", ipa="təmˈeɪɾoʊ").samples  # heart's own reading, written in IPA
    other = prosody.render(heart, "tomato", ipa="təˈmɑːtəʊ").samples
    assert len(as_given) == len(own)
    assert len(other) != len(own) or not np.allclose(other, own)


def test_an_engine_without_phonemes_reads_a_phoneme_element_as_plain_text(studio, monkeypatch):
    from voicekit import prosody
    from voicekit.cloning.engine import WorldRenderer

    def through_world(*args):
        raise AssertionError("neutral prosody must not go through WORLD")

    monkeypatch.setattr(WorldRenderer, "prepare_timed", through_world)
    samples = prosody.render(studio.engine("joe"), "tomato", ipa="təˈmɑːtəʊ").samples
    assert samples.dtype == np.float32 and len(samples) > 0

"""Speaking styles, measured on the released audio."""
import numpy as np
import pytest

from voicekit.audio import frame_levels_db, resample
from voicekit.cloning.fit import median_log_f0
from voicekit.errors import BadInput
from voicekit.styles import STYLES

SENTENCE = "She said the garden would look better after a week of warm spring rain."


def pitch_st(result) -> float:
    return 12 * median_log_f0(resample(result.audio, result.sample_rate, 16000))[0] / np.log(2)


def level_db(result) -> float:
    levels = frame_levels_db(result.audio, result.sample_rate, 0.01)
    return float(np.mean(levels[levels > np.max(levels) - 30]))


def voiced_share(result) -> float:
    import pyworld

    x = resample(result.audio, result.sample_rate, 16000).astype(np.float64)
    f0, _ = pyworld.dio(x, 16000, frame_period=10.0)
    loud = frame_levels_db(x, 16000, 0.01) > -40
    n = min(len(f0), len(loud))
    return float(np.mean(f0[:n][loud[:n]] > 40))


@pytest.fixture(scope="module")
def neutral(studio):
    return {voice: studio.speak(SENTENCE, voice=voice) for voice in ("heart", "joe")}


def test_the_six_styles_are_there_and_documented():
    assert set(STYLES) >= {"neutral", "calm", "cheerful", "serious", "excited", "whisper"}
    assert all(s.summary for s in STYLES.values())


@pytest.mark.parametrize("voice", ["heart", "joe"])
def test_cheerful_and_excited_are_higher_serious_lower(studio, neutral, voice):
    base = pitch_st(neutral[voice])
    assert pitch_st(studio.speak(SENTENCE, voice=voice, style="cheerful")) - base > 1.0
    assert pitch_st(studio.speak(SENTENCE, voice=voice, style="excited")) - base > 2.0
    assert pitch_st(studio.speak(SENTENCE, voice=voice, style="serious")) - base < -1.0


def test_calm_is_slower_and_softer(studio, neutral):
    calm = studio.speak(SENTENCE, style="calm")
    assert len(calm.audio) > 1.02 * len(neutral["heart"].audio)
    assert level_db(calm) < level_db(neutral["heart"]) - 1.5


# Whispered speech is near the recogniser's limit: which words it gets wrong changes with the mark
# each release carries (joe's second sentence: 1 or 5 of 13 words wrong; the first alone, 4 of 14
# in 200 releases, failed a 0.35 bound once in CI at 5). Over these three sentences, 15 releases
# each: joe 7 (8 times) or 11 (7 times) of 38 words wrong, heart 1 every time; the bound, 0.35 of
# 38, allows 13.
WHISPERED = [SENTENCE, "The children walked home slowly along the river, talking about the game.",
             "Please call me back tomorrow morning if the train is late again."]


@pytest.mark.parametrize("voice", ["heart", "joe"])
def test_whisper_has_no_voicing_and_is_still_understood(studio, neutral, voice):
    from consent.statement import StatementChecker
    from voicekit.cloning.fit import word_errors

    assert voiced_share(neutral[voice]) > 0.5
    errors = words = 0
    heard = []
    for sentence in WHISPERED:
        whisper = studio.speak(sentence, voice=voice, style="whisper")
        assert voiced_share(whisper) < 0.15
        heard.append(StatementChecker().transcribe(resample(whisper.audio, whisper.sample_rate, 16000)))
        wrong, count = word_errors(sentence, heard[-1])
        errors, words = errors + wrong, words + count
    assert errors / words <= 0.35, heard


def test_style_is_in_provenance_and_the_output_is_marked(studio):
    result = studio.speak(SENTENCE, style="whisper")
    assert result.provenance["body"]["style"] == "whisper"
    from detection.audit import inspect_audio

    finding = inspect_audio(result.audio, result.sample_rate, studio.watermarker, studio.ledger, studio.keys)
    assert finding.mark_id == result.mark_id


def test_unknown_style_is_refused_with_the_names(studio):
    with pytest.raises(BadInput, match="unknown style 'angry'.*whisper"):
        studio.speak(SENTENCE, style="angry")

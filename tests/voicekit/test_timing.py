"""Word timings: from the engines' own durations (heart, joe) or a forced alignment, aligned to the
released audio."""
import json

import numpy as np
import pytest

from voicekit.audio import frame_levels_db
from voicekit.timing import ForcedAligner

SENTENCE = "Please remember to lock the back door when you leave the office tonight."
WORDS = SENTENCE.rstrip(".").split()


def silences(result, min_s=0.4):
    quiet = frame_levels_db(result.audio, result.sample_rate, 0.01) < -50
    edges = np.flatnonzero(np.diff(np.concatenate([[False], quiet, [False]]).astype(int)))
    return [(a * 0.01, b * 0.01) for a, b in zip(edges[::2], edges[1::2])
            if b - a >= min_s / 0.01 and a > 0 and b < len(quiet)]


@pytest.mark.parametrize("voice", ["heart", "joe"])
def test_timings_are_the_words_in_order_monotonic_and_cover_the_audio(studio, voice):
    result = studio.speak(SENTENCE, voice=voice, word_timings=True)
    assert [w.word for w in result.words] == WORDS
    starts = [w.start for w in result.words]
    assert all(w.start < w.end for w in result.words)
    assert all(a.end <= b.start + 1e-6 for a, b in zip(result.words, result.words[1:]))
    assert starts == sorted(starts)
    duration = len(result.audio) / result.sample_rate
    assert 0 <= result.words[0].start < 0.5 and duration - 0.5 < result.words[-1].end <= duration


@pytest.mark.parametrize("voice", ["heart", "joe"])
def test_words_beside_breaks_meet_the_silence_within_50_ms(studio, voice):
    result = studio.speak('<speak>Seven children <break time="600ms"/> watched the bridge <break time="600ms"/> '
                          'while the river flowed.</speak>', voice=voice, ssml=True, word_timings=True)
    gaps = silences(result)
    assert len(gaps) == 2
    by_word = {w.word: w for w in result.words}
    for (start, end), before, after in zip(gaps, ("children", "bridge"), ("watched", "while")):
        assert abs(by_word[before].end - start) <= 0.05
        assert abs(by_word[after].start - end) <= 0.05


def test_marks_fall_between_the_words_around_them(studio):
    result = studio.speak('<speak>One two <mark name="here"/> three four.</speak>', ssml=True, word_timings=True)
    words = {w.word: w for w in result.words}
    assert words["two"].start < result.marks["here"] <= words["three"].start + 1e-6


def test_the_forced_aligner_agrees_with_piper_s_own_durations(studio):
    """The aligner (used for engines without durations, as coqui's) against joe's own timings."""
    samples, words = studio.engine("joe").synthesize_timed(SENTENCE)
    aligned = ForcedAligner().align(samples, studio.engine("joe").sample_rate, SENTENCE)
    assert [w.word for w in aligned] == WORDS
    errors = [abs(a.start - b.start) for a, b in zip(aligned, words)]
    assert np.median(errors) <= 0.05


def test_numbers_and_symbols_keep_the_text_s_words(studio):
    result = studio.speak("Dr. Smith paid $5.20 on 3/4/2024.", voice="joe", word_timings=True)
    assert [w.word for w in result.words] == ["Dr", "Smith", "paid", "$5.20", "on", "3/4/2024"]
    # heart's normaliser rewrites a date as words before reading it; the timings name what was read
    result = studio.speak("Dr. Smith paid $5.20 on 3/4/2024.", word_timings=True)
    assert [w.word for w in result.words] == ["Dr", "Smith", "paid", "$5.20", "on", "March", "fourth", "2024"]


def test_no_timings_unless_asked(studio):
    assert studio.speak(SENTENCE).words == []


def test_cli_writes_timings(tmp_path):
    from voicekit.cli import main

    out, timings = tmp_path / "out.wav", tmp_path / "words.json"
    code = main(["--home", str(tmp_path / "home"), "say", "--ssml",
                 '<speak>Hello <mark name="m"/> there.</speak>', "--style", "calm", "-o", str(out),
                 "--timings", str(timings)])
    assert code == 0
    data = json.loads(timings.read_text())
    assert [w["word"] for w in data["words"]] == ["Hello", "there"] and "m" in data["marks"]
    assert data["audio"] == "out.wav"


def test_cli_refuses_a_timings_path_it_cannot_write_before_any_work(tmp_path, capsys):
    from voicekit.cli import main

    code = main(["--home", str(tmp_path / "home"), "say", "Hello.", "-o", str(tmp_path / "out.wav"),
                 "--timings", str(tmp_path / "missing" / "words.json")])
    assert code == 2 and not (tmp_path / "out.wav").exists()
    assert "does not exist" in capsys.readouterr().err

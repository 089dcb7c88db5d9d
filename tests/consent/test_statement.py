"""The consent statement check: free recognition, phoneme-level comparison, nonce words, negations."""
import numpy as np
import pytest

from consent.challenges import new_challenge
from consent.errors import ChallengeInvalid, InvalidRecordRequest
from consent.phonemes import Lexicon, align
from consent.statement import StatementChecker, consent_phrase, nonce_vocabulary, speech_outside

NAME, NONCE = "Mary Jones", ("harbor", "pencil", "tiger", "violin")


@pytest.fixture(scope="module")
def checker():
    return StatementChecker()


def heard(text):
    return text.lower().replace(",", "").replace(".", "").replace(":", "")


def test_the_exact_phrase_passes(checker):
    result = checker.compare(heard(consent_phrase(NAME, NONCE)), NAME, NONCE)
    assert result.failures() == []
    assert result.phrase_score > 0.95 and min(result.nonce_scores) == 1.0 and result.name_score == 1.0


def test_sound_alike_recognition_errors_are_tolerated(checker):
    transcript = ("my name is mary jones i agreed that voice kid may create a synthetic for sinn of my boys "
                  "my words are harbor pencils tigers violent")
    assert checker.compare(transcript, NAME, NONCE).failures() == []


@pytest.mark.parametrize("transcript, reason", [
    ("my name is mary jones i do not agree that voice kit may create a synthetic version of my voice my words are harbor pencil tiger violin", "negation"),
    ("my name is mary jones i agree that voice kit may never create a synthetic version of my voice my words are harbor pencil tiger violin", "negation"),
    ("my name is mary jones i agree that voice kit may create a synthetic version of my voice my words are harbor pencil tiger violin i withdraw", "negation"),
    ("my name is mary jones i refuse that voice kit may create a synthetic version of my voice my words are harbor pencil tiger violin", "negation"),
    ("my name is mary jones i agree that voice kit may create a synthetic version of my voice my words are harbor pencil tiger violin just kidding", "said before or after"),
])
def test_a_negation_anywhere_rejects(checker, transcript, reason):
    failures = checker.compare(transcript, NAME, NONCE).failures()
    assert any(reason in f for f in failures), failures


def test_a_negation_word_heard_inside_the_name_is_the_name():
    """"Noone" heard as "no one", "Knott" as "not": the name's own sounds are no negation (issue 16);
    the same words anywhere else are."""
    checker = StatementChecker()
    nonce = ("skeleton", "tennis", "giant", "salmon")
    said = "my name is marion no one i agree that voice kit may create a synthetic version of my voice " \
           "my words are skeleton tennis giant salmon"
    assert checker.compare(said, "Marion Noone", nonce).negations == ()
    assert checker.compare(said.replace("marion no one", "nora not"), "Nora Knott", nonce).negations == ()
    negated = said.replace("i agree", "i do not agree")
    assert checker.compare(negated, "Marion Noone", nonce).negations == ("not",)


def test_a_reading_of_another_challenge_is_a_replay(checker):
    old = heard(consent_phrase(NAME, ("meadow", "lantern", "rocket", "pilot")))
    failures = checker.compare(old, NAME, NONCE).failures()
    assert any("challenge words were not heard" in f for f in failures), failures


def test_another_name_is_not_heard(checker):
    failures = checker.compare(heard(consent_phrase("Robert Miller", NONCE)), NAME, NONCE).failures()
    assert any("name was not heard" in f for f in failures), failures


def test_unrelated_speech_fails_the_phrase(checker):
    failures = checker.compare("the quick brown fox jumps over the lazy dog", NAME, NONCE).failures()
    assert any("does not match the phrase" in f for f in failures)


def test_a_name_missing_from_the_dictionary_is_phonemised_by_espeak():
    lexicon = Lexicon.packaged()
    assert "okonkwo" not in lexicon
    phones = lexicon.phones("Okonkwo")
    assert phones[:2] == ("AA", "K") or "K" in phones
    assert align([lexicon.phones("okonkwo")], lexicon.phones("okonkwo")).score == 1.0


def test_nonce_words_are_all_pronounceable():
    lexicon = Lexicon.packaged()
    words = nonce_vocabulary()
    assert len(words) >= 200 and all(w in lexicon for w in words)


def test_challenges_name_the_person_and_refuse_names_with_negations():
    challenge = new_challenge("  Mary   Jones ", now=0.0)
    assert challenge.name == "Mary Jones" and challenge.phrase.startswith("My name is Mary Jones. I agree")
    assert all(word in challenge.phrase for word in challenge.nonce) and len(set(challenge.nonce)) == 4
    with pytest.raises(InvalidRecordRequest, match="negation"):
        new_challenge("Never Jones", now=0.0)
    with pytest.raises(InvalidRecordRequest, match="letters"):
        new_challenge("123", now=0.0)


def test_challenge_nonces_are_random():
    assert len({new_challenge("Mary Jones", now=0.0).nonce for _ in range(20)}) == 20


def test_challenge_use_rules():
    challenge = new_challenge("Mary Jones", now=0.0, ttl_s=600)
    challenge.usable_by("mary jones", now=599.0)
    with pytest.raises(ChallengeInvalid, match="expired"):
        challenge.usable_by(None, now=600.0)
    with pytest.raises(ChallengeInvalid, match="issued for 'Mary Jones', not 'Robert Miller'"):
        challenge.usable_by("Robert Miller", now=1.0)


def _heart_reading():
    from voicekit.audio import resample
    from voicekit.engines import create

    heart = create("heart")
    return lambda text: resample(heart.synthesize(text), heart.sample_rate, 16000)


def test_real_readings_by_an_engine_voice(checker):
    """Rendered straight by the heart engine (no studio, no mark; seeded, so the same every run),
    then recognised by pocketsphinx: the genuine reading passes both passes; every negated reading,
    a replay for a fresh challenge and the reading offered for another name are refused."""
    reading = _heart_reading()
    phrase = consent_phrase(NAME, NONCE)
    audio = reading(phrase)
    genuine = checker.check(audio, NAME, NONCE)
    assert genuine.failures() == [], genuine.transcript
    assert genuine.constrained.negated == () and genuine.constrained.nonce == NONCE
    assert genuine.name_heard() and genuine.constrained.name_lr <= genuine.thresholds.name_lr
    for negated in (phrase.replace("agree", "do not agree", 1), phrase.replace(" agree", " don't agree", 1),
                    phrase.replace("agree", "never agree", 1), phrase.replace("agree", "refuse", 1),
                    phrase.replace("may create", "may not create", 1), phrase + " I withdraw my consent.",
                    phrase + " I do not agree.", phrase + " No."):
        refused = checker.check(reading(negated), NAME, NONCE)
        assert any("negation" in f or "before or after" in f or "does not follow" in f
                   for f in refused.failures()), (negated, refused.transcript)
    replay = checker.check(audio, NAME, ("meadow", "lantern", "rocket", "pilot"))
    assert any("challenge words" in f for f in replay.failures()), replay.constrained
    assert replay.constrained.nonce == NONCE  # heard as its own words, not the expected ones
    other = checker.check(audio, "Robert Miller", NONCE)
    assert any("name was not heard" in f for f in other.failures())


def test_speech_after_the_aligned_phrase_is_refused(checker):
    """A "No." after a pause: the phrase as aligned in the genuine reading does not cover it, so it
    counts as speech outside the phrase (and this reading with it is refused)."""
    reading = _heart_reading()
    audio = reading(consent_phrase(NAME, NONCE))
    genuine = checker.check(audio, NAME, NONCE)
    span = genuine.constrained.span_s
    assert genuine.speech_outside_s <= 0.03 and 0.0 <= span[0] < span[1] <= len(audio) / 16000
    tail = np.concatenate([audio, np.zeros(8000, np.float32), reading("No.")])
    assert speech_outside(tail, span) > 0.15
    assert speech_outside(audio, None) == 0.0
    for nothing in (np.zeros(16000, np.float32), np.random.default_rng(0).normal(0, 0.1, 8000).astype(np.float32)):
        heard = checker.check(nothing, NAME, NONCE)  # the grammar may find no path at all
        assert heard.failures() and heard.speech_outside_s >= 0.0
    assert any("before or after" in f or "negation" in f for f in checker.check(tail, NAME, NONCE).failures())


def test_concurrent_checks_get_their_own_verdicts(checker):
    """Four threads checking four different readings at once (as four enrollments do on a server)
    each get the verdict their reading gets alone, and a transcript of their own reading; the
    shared decoders once mixed them up, and crashed the process. (Transcripts are not compared
    word for word: pocketsphinx's live cepstral mean carries over from one utterance to the next,
    so the order of calls moves a word or two even one at a time.)"""
    from concurrent.futures import ThreadPoolExecutor

    import soundfile as sf

    from tests.conftest import HUMAN_RECORDING
    from voicekit.audio import resample
    from voicekit.engines import create

    heart = create("heart")
    people = [("Mary Jones", NONCE), ("Tom Okafor", ("river", "candle", "window", "pepper")),
              ("Ana Lima", ("garden", "rocket", "silver", "walnut")), ("Lee Chen", ("piano", "forest", "button", "mango"))]
    readings = [resample(heart.synthesize(consent_phrase(n, w)), heart.sample_rate, 16000) for n, w in people]
    human, rate = sf.read(HUMAN_RECORDING, dtype="float32")
    readings[3] = resample(human[: 12 * rate], rate, 16000)  # someone saying something else entirely
    alone = [checker.check(r, n, w) for r, (n, w) in zip(readings, people)]
    with ThreadPoolExecutor(4) as pool:
        together = list(pool.map(lambda job: checker.check(job[0], *job[1]), zip(readings, people)))
    assert [c.failures() == [] for c in together] == [True, True, True, False]
    for check, (name, nonce) in zip(together[:3], people):
        others = {w for n, ws in people if n != name for w in ws}
        heard = set(check.transcript.split())
        assert set(nonce) & heard and not others & heard, check.transcript
    assert [c.failures() == [] for c in alone] == [True, True, True, False]


def _read(studio, voice: str, text: str) -> np.ndarray:
    from voicekit.audio import resample

    engine = studio.engine(voice)
    return resample(engine.synthesize(text), engine.sample_rate, 16000)


def test_a_name_ending_in_n_does_not_run_into_the_consent_words(studio, checker):
    """Read as "I, Karen Quinn, agree", joe's "Quinn agree" was heard as "I can't quite agree" and
    refused as a negation (issue 16); with the name in a sentence of its own it is accepted, and
    the same voice's negated readings of that challenge are still refused."""
    name = "Karen Quinn"
    phrase = consent_phrase(name, NONCE)
    assert phrase.startswith("My name is Karen Quinn. I agree")
    assert checker.check(_read(studio, "joe", phrase), name, NONCE).failures() == []
    for negated in (phrase.replace("agree", "do not agree", 1), phrase.replace(" agree", " don't agree", 1),
                    phrase.replace("agree", "refuse", 1), phrase + " I withdraw my consent."):
        failures = checker.check(_read(studio, "joe", negated), name, NONCE).failures()
        assert any("negation" in f for f in failures), (negated, failures)

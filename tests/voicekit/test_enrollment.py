"""Enrollment through the studio, and the threats it must refuse (each with its reason).

"Speakers": the shipped human recording where a real person is needed, and voices rendered
straight by the engines (no studio, so no mark) where a statement must be read aloud.
"""
import json
import sqlite3

import pytest
import soundfile as sf

from consent.errors import (
    ChallengeInvalid,
    ConsentExpired,
    EnrollmentRefused,
    ProfileTampered,
    ScopeNotAllowed,
    SealedDataError,
    VoiceRevoked,
)
from consent.keys import RegistryKeys
from consent.profiles import VoiceProfile
from tests.conftest import HUMAN_RECORDING
from tests.voicekit.tiny_coqui import build_tiny_vits
from voicekit.errors import BadInput, EngineUnavailable

REFERENCE_TEXTS = [
    "The old lighthouse keeper climbed the winding stairs every evening to light the lamp.",
    "Rain had fallen all week, and the river was running high under the stone bridge.",
    "She packed a small bag with bread, cheese and apples before setting out at dawn.",
    "The children ran across the meadow, laughing, while their dog chased the butterflies.",
]


class Clock:
    def __init__(self):
        self.now = 1_800_000_000.0

    def __call__(self):
        return self.now


@pytest.fixture(scope="module")
def clock():
    return Clock()


@pytest.fixture(scope="module")
def studio(tmp_path_factory, clock):
    from voicekit import Studio

    return Studio(home=tmp_path_factory.mktemp("enroll-home"), clock=clock)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return tmp_path_factory.mktemp("recordings")


def render(studio, folder, voice, text, name):
    """Unmarked speech straight from an engine (never through the studio)."""
    engine = studio.engine(voice)
    path = folder / f"{name}.wav"
    sf.write(path, engine.synthesize(text), engine.sample_rate)
    return path


@pytest.fixture(scope="module")
def references(studio, folder):
    return [render(studio, folder, "heart", text, f"heart-ref-{i}") for i, text in enumerate(REFERENCE_TEXTS)]


def challenge_for(studio, name="Mary Jones", nonce=("harbor", "pencil", "tiger", "violin"), ttl_s=600):
    """A stored challenge with fixed nonce words: heart (seeded, so deterministic) reads these well.
    studio.consent_challenge draws random ones; bench/consent.py measures acceptance over those."""
    return studio.consent_challenge(name, ttl_s=ttl_s, nonce=nonce)


def reading(studio, folder, challenge, voice="heart", text=None):
    return render(studio, folder, voice, text or challenge.phrase, f"{voice}-{challenge.challenge_id}")


def refused(studio, challenge, consent, references, **kwargs):
    with pytest.raises(EnrollmentRefused) as info:
        studio.enroll(challenge.challenge_id, consent, references, **kwargs)
    return " | ".join(info.value.failures)


@pytest.fixture(scope="module")
def enrolled(studio, folder, references):
    challenge = challenge_for(studio)
    profile = studio.enroll(challenge.challenge_id, reading(studio, folder, challenge), references,
                            scopes=("tts",), keep_references=True)
    return challenge, profile


@pytest.fixture(scope="module")
def unkept(studio, folder, references):
    """A profile enrolled with the defaults: every scope, no references kept."""
    challenge = challenge_for(studio)
    return studio.enroll(challenge.challenge_id, reading(studio, folder, challenge), references)


def test_a_genuine_enrollment_is_signed_and_recorded(studio, enrolled, references):
    challenge, profile = enrolled
    assert profile.voice_id.startswith("profile:") and profile.kind == "clone"
    assert studio.registry.check_at(profile.voice_id, now=studio.clock()) == profile
    consent = profile.details["consent"]
    assert consent["challenge_id"] == challenge.challenge_id and consent["statement"]["negations"] == []
    assert consent["speaker_similarity"] >= consent["policy"]["same_speaker"]
    assert len(profile.details["embedding"]) == 256
    assert len(profile.details["audio_sha256"]["references"]) == len(references)
    kinds = [e.kind for e in studio.ledger.entries()]
    assert "consent-challenge" in kinds and "enrollment" in kinds
    assert studio.ledger.verify().ok


def test_kept_references_are_encrypted_at_rest_and_bound_to_the_profile(studio, enrolled, references):
    _, profile = enrolled
    kept = studio.sealed_references(profile.voice_id)
    assert kept == [p.read_bytes() for p in references]
    files = sorted((studio.home / "references").rglob("*.sealed"))
    assert files and all(b"RIFF" not in f.read_bytes()[:64] for f in files)
    from consent import sealed

    with pytest.raises(SealedDataError, match="another profile"):
        sealed.unseal(files[0].read_bytes(), studio.keys, "profile:someone-else")


def test_a_used_challenge_cannot_enroll_again(studio, folder, enrolled, references):
    challenge, _ = enrolled
    with pytest.raises(ChallengeInvalid, match="already used"):
        studio.enroll(challenge.challenge_id, reading(studio, folder, challenge), references)


def test_an_expired_challenge_is_refused(studio, folder, clock, references):
    challenge = studio.consent_challenge("Mary Jones", ttl_s=60)
    consent = reading(studio, folder, challenge)
    clock.now += 61
    with pytest.raises(ChallengeInvalid, match="expired"):
        studio.enroll(challenge.challenge_id, consent, references)


def test_a_challenge_issued_for_another_name_is_refused(studio, folder, references):
    challenge = studio.consent_challenge("Robert Miller")
    with pytest.raises(ChallengeInvalid, match="issued for 'Robert Miller', not 'Mary Jones'"):
        studio.enroll(challenge.challenge_id, reading(studio, folder, challenge), references, name="Mary Jones")


def test_a_negated_statement_is_refused(studio, folder, references):
    challenge = challenge_for(studio)
    negated = reading(studio, folder, challenge, text=challenge.phrase.replace("agree", "do not agree"))
    assert "negation" in refused(studio, challenge, negated, references)


def test_a_statement_by_another_speaker_is_refused(studio, folder, references):
    challenge = challenge_for(studio)
    reason = refused(studio, challenge, reading(studio, folder, challenge, voice="joe"), references)
    assert "not by the speaker of the references" in reason


def test_the_consent_reading_joins_the_fit_only_after_the_speaker_check(studio, folder, references, enrolled,
                                                                         monkeypatch):
    """The consent reading is fitted on with the references (issue 16), and only once the speaker
    check has passed: a reading by another voice is refused before any fit starts."""
    from voicekit.studio import enrollment

    _, profile = enrolled
    fit = profile.typed_details.voice.fit
    references_s = sum(enrollment.recording(r).voiced.size for r in references) / 16000
    assert fit["fitting_s"] > 0.75 * references_s + 3.0  # the reading's few seconds of speech joined
    assert fit["held_out_s"] == pytest.approx(0.25 * references_s, abs=0.1)

    fits = []
    real = enrollment.fitted_voice
    monkeypatch.setattr(enrollment, "fitted_voice", lambda *args: fits.append(args) or real(*args))
    challenge = challenge_for(studio)
    reason = refused(studio, challenge, reading(studio, folder, challenge, voice="joe"), references)
    assert "not by the speaker of the references" in reason and fits == []


def test_human_references_with_a_synthetic_statement_are_refused(studio, folder):
    challenge = studio.consent_challenge("Allison Smith")
    reason = refused(studio, challenge, reading(studio, folder, challenge), [HUMAN_RECORDING])
    assert "not by the speaker of the references" in reason
    assert "references hold" not in reason and "noisy" not in reason  # the human references themselves pass


def test_a_human_saying_something_else_is_the_right_speaker_but_no_consent(studio, folder, tmp_path):
    samples, rate = sf.read(HUMAN_RECORDING, dtype="float32")
    sf.write(tmp_path / "refs.wav", samples[: 20 * rate], rate)
    sf.write(tmp_path / "statement.wav", samples[20 * rate:], rate)
    challenge = studio.consent_challenge("Allison Smith")
    reason = refused(studio, challenge, tmp_path / "statement.wav", [tmp_path / "refs.wav"])
    assert "does not match the phrase" in reason and "not by the speaker" not in reason


def test_our_own_output_as_consent_is_refused(studio, references, tmp_path):
    challenge = studio.consent_challenge("Mary Jones")
    studio.speak(challenge.phrase, voice="heart").save(tmp_path / "ours.wav")
    reason = refused(studio, challenge, tmp_path / "ours.wav", references)
    assert "ours.wav carries a voicekit watermark" in reason


def test_our_own_output_as_references_is_refused(studio, folder, references, tmp_path):
    challenge = studio.consent_challenge("Mary Jones")
    studio.speak(" ".join(REFERENCE_TEXTS), voice="heart", format="mp3").save(tmp_path / "ours.mp3")
    reason = refused(studio, challenge, reading(studio, folder, challenge), [tmp_path / "ours.mp3"])
    assert "ours.mp3 carries a voicekit watermark" in reason


def test_too_little_speech_is_refused_with_figures(studio, folder, references):
    challenge = studio.consent_challenge("Mary Jones")
    reason = refused(studio, challenge, reading(studio, folder, challenge), references[:1])
    assert "the references hold 4." in reason and "needs 10 s" in reason


def test_three_failures_spend_the_challenge(studio, folder, references):
    challenge = studio.consent_challenge("Mary Jones")
    wrong = reading(studio, folder, challenge, voice="joe")
    for _ in range(3):
        refused(studio, challenge, wrong, references)
    with pytest.raises(ChallengeInvalid, match="failed 3 times"):
        studio.enroll(challenge.challenge_id, reading(studio, folder, challenge), references)
    assert sum(e.kind == "enrollment-refused" for e in studio.ledger.entries()) >= 3


def test_bad_requests_are_refused_before_any_work(studio, references):
    with pytest.raises(BadInput, match="scopes"):
        studio.enroll("x", references[0], references, scopes=("everything",))
    with pytest.raises(BadInput, match="past"):
        studio.enroll("x", references[0], references, expires_at=1.0)
    with pytest.raises(ChallengeInvalid, match="unknown challenge"):
        studio.enroll("nope", references[0], references)


def test_references_over_the_total_limit_are_refused_before_any_check(studio, folder, references, monkeypatch):
    from voicekit.errors import TooLong
    from voicekit.studio import enrollment

    monkeypatch.setattr(enrollment, "MAX_REFERENCES_S", 12.0)  # the four references last about 19 s
    challenge = challenge_for(studio)
    with pytest.raises(TooLong, match="at most 12 s"):
        studio.enroll(challenge.challenge_id, reading(studio, folder, challenge), references)
    assert studio.registry.challenge(challenge.challenge_id).failed_attempts == 0


def _edit_record(studio, voice_id, change):
    with sqlite3.connect(studio.home / "registry.db") as db:
        record = json.loads(db.execute("SELECT record FROM voices WHERE voice_id = ?", (voice_id,)).fetchone()[0])
        change(record)
        db.execute("UPDATE voices SET record = ? WHERE voice_id = ?", (json.dumps(record).encode(), voice_id))


EDITS = [
    lambda r: r.update(scopes=["tts", "sing"]),
    lambda r: r.update(expires_at=r["created_at"] + 10 * 365 * 86400),
    lambda r: r["details"].update(embedding=[0.0625] * 256),
]


def test_edited_profile_rows_are_refused(studio, folder, references):
    """Each edit in turn on one enrolled profile (an enrollment takes half a minute), the row put
    back between edits: the restored row speaks again, so each refusal is that edit's."""
    challenge = challenge_for(studio)
    profile = studio.enroll(challenge.challenge_id, reading(studio, folder, challenge), references,
                            expires_at=studio.clock() + 86400)
    with sqlite3.connect(studio.home / "registry.db") as db:
        original = db.execute("SELECT record FROM voices WHERE voice_id = ?", (profile.voice_id,)).fetchone()[0]
    for edit in EDITS:
        _edit_record(studio, profile.voice_id, edit)
        with pytest.raises(ProfileTampered, match="does not match its signature"):
            studio.speak("Hello.", voice=profile.voice_id)
        assert studio.registry.status_at(profile.voice_id, studio.clock()).status == "tampered"
        with sqlite3.connect(studio.home / "registry.db") as db:
            db.execute("UPDATE voices SET record = ? WHERE voice_id = ?", (original, profile.voice_id))
        assert studio.speak("Hello.", voice=profile.voice_id).provenance["body"]["voice"] == profile.voice_id


def test_a_profile_signed_by_a_foreign_key_is_refused(studio, tmp_path):
    foreign = RegistryKeys.open(tmp_path / "foreign-keys")
    profile = VoiceProfile("profile:forged", "clone", "clone", "Forged", "none", ("tts",), studio.clock())
    signature = profile.sign(foreign)
    with sqlite3.connect(studio.home / "registry.db") as db:
        db.execute("INSERT INTO voices (voice_id, record, key_id, signature) VALUES (?, ?, ?, ?)",
                   (profile.voice_id, profile.canonical(), signature.key_id, signature.value))
    with pytest.raises(ProfileTampered, match="does not hold"):
        studio.speak("Hello.", voice="profile:forged")


def test_a_cloning_coqui_model_speaks_the_profile_from_its_sealed_references(studio, enrolled, unkept, tmp_path):
    _, profile = enrolled
    studio.add_model_voice("tiny-clone", build_tiny_vits(tmp_path / "tiny"), licence="random weights, test only",
                           speaker="ana")
    result = studio.speak("Hello.", voice=profile.voice_id, clone_with="tiny-clone")
    body = result.provenance["body"]
    assert body["voice"] == profile.voice_id and body["clone_with"] == "tiny-clone"
    assert body["engine"] == "coqui" and "conditioned on the profile's sealed references" in body["model"]

    with pytest.raises(EngineUnavailable, match="--keep-references"):
        studio.speak("Hello.", voice=unkept.voice_id, clone_with="tiny-clone")


def test_expiry_and_scope_are_enforced(studio, folder, clock, references):
    challenge = challenge_for(studio)
    profile = studio.enroll(challenge.challenge_id, reading(studio, folder, challenge), references,
                            scopes=("sing",), expires_at=clock.now + 3600)
    with pytest.raises(ScopeNotAllowed, match="covers sing, not 'tts'"):
        studio.speak("Hello.", voice=profile.voice_id)
    clock.now += 3601
    with pytest.raises(ConsentExpired):
        studio.speak("Hello.", voice=profile.voice_id)
    assert studio.registry.status_at(profile.voice_id, clock.now).status == "expired"


def test_key_rotation_keeps_old_signatures_and_marks_verifying(studio, enrolled, tmp_path):
    _, profile = enrolled
    before = studio.speak("Signed before the rotation.", voice="heart")
    before.save(tmp_path / "before.wav")
    old = studio.keys.current_key_id
    new = studio.rotate_keys()
    assert new != old and set(studio.keys.public_keys()) >= {old, new}
    assert studio.registry.check_at(profile.voice_id, now=studio.clock()) == profile
    after = studio.speak("Signed after the rotation.", voice="heart")
    assert after.provenance["signature"]["key_id"] == new
    assert studio.detect(tmp_path / "before.wav").mark_id == before.mark_id
    assert studio.sealed_references(profile.voice_id)  # sealed under the old key, still opens
    assert studio.ledger.verify().ok


def test_a_failed_store_leaves_no_sealed_audio_and_the_challenge_unused(studio, folder, references, monkeypatch):
    challenge = challenge_for(studio)
    before = set((studio.home / "references").rglob("*"))

    def disk_full(*args, **kwargs):
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(studio.registry, "register", disk_full)
    with pytest.raises(sqlite3.OperationalError):
        studio.enroll(challenge.challenge_id, reading(studio, folder, challenge), references, keep_references=True)
    assert set((studio.home / "references").rglob("*")) == before
    assert studio.registry.challenge(challenge.challenge_id).used_at is None


# Last in the file: it revokes the module's `unkept` profile.
def test_revocation_takes_effect_for_the_very_next_request(studio, unkept):
    profile = unkept
    spoken = studio.speak("Hello.", voice=profile.voice_id)
    assert spoken.provenance["body"]["voice"] == profile.voice_id
    studio.revoke(profile.voice_id, reason="speaker withdrew consent")
    with pytest.raises(VoiceRevoked, match="speaker withdrew consent"):
        studio.speak("Hello.", voice=profile.voice_id)
    with pytest.raises(VoiceRevoked, match="already revoked"):
        studio.revoke(profile.voice_id)
    entry = [e for e in studio.ledger.entries() if e.kind == "revocation"][-1]
    assert entry.body == {"voice_id": profile.voice_id, "reason": "speaker withdrew consent"}

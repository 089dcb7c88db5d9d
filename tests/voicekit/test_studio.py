"""The Python API through the whole guarded path, with the real engines, keys, registry and ledger."""
import sqlite3

import numpy as np
import pytest

from consent.errors import ProfileTampered, UnknownVoice
from detection.errors import GateRefused
from detection.gate import ReleaseGate
from voicekit import Studio
from voicekit.errors import BadInput, EmptyText, UnsupportedFormat
from tests.conftest import HUMAN_RECORDING


@pytest.mark.parametrize("voice", ["heart", "joe"])
@pytest.mark.parametrize("fmt", ["wav", "mp3"])
def test_say_then_detect_round_trip(studio, tmp_path, voice, fmt):
    result = studio.speak("Hello from the guarded pipeline. Every word is marked.", voice=voice, format=fmt)
    path = result.save(tmp_path / f"out.{fmt}")
    finding = studio.detect(path)
    assert finding.watermarked and finding.p_value <= 1e-6
    assert finding.mark_id == result.mark_id
    assert finding.payload == f"{result.mark_id:08x}"
    assert finding.provenance["voice"] == voice and finding.provenance["signature_valid"]


def test_result_carries_audio_mark_and_signed_provenance(studio, tmp_path):
    result = studio.speak("Hello.", voice="heart", sample_rate=16000)
    assert result.sample_rate == 16000 and result.audio.dtype == np.float32 and len(result.audio) > 8000
    assert 0 <= result.mark_id < 2 ** 32
    body = result.provenance["body"]
    assert body["mark_id"] == result.mark_id and body["voice"] == "heart" and body["gate"]["p_value"] <= 1e-6
    assert studio.ledger.find_mark(result.mark_id).hash == result.provenance["hash"]
    assert studio.ledger.verify().ok
    result.save(tmp_path / "hello.wav")
    with pytest.raises(UnsupportedFormat, match="format='mp3'"):
        result.save(tmp_path / "hello.mp3")


def test_long_text_is_rendered_whole(studio):
    text = " ".join(f"This is sentence number {i} of a longer passage." for i in range(1, 13))
    short = studio.speak("This is sentence number 1 of a longer passage.")
    long = studio.speak(text)
    assert len(long.audio) > 9 * len(short.audio)


def test_a_human_recording_is_not_ours(studio):
    finding = studio.detect(HUMAN_RECORDING)
    assert not finding.watermarked and finding.mark_id is None and finding.provenance is None


def test_bad_requests_are_refused_before_any_work(studio):
    entries = studio.ledger.verify().entries
    with pytest.raises(EmptyText):
        studio.speak("   ")
    with pytest.raises(UnknownVoice, match="heart, joe"):
        studio.speak("Hi.", voice="profile:nope")
    with pytest.raises(UnsupportedFormat):
        studio.speak("Hi.", format="aiff")
    assert studio.ledger.verify().entries == entries


def test_a_tampered_house_record_is_refused(tmp_path):
    studio = Studio(home=tmp_path)
    with sqlite3.connect(tmp_path / "registry.db") as db:
        record = db.execute("SELECT record FROM voices WHERE voice_id = 'joe'").fetchone()[0]
        db.execute("UPDATE voices SET record = ? WHERE voice_id = 'joe'",
                   (bytes(record).replace(b'"tts"', b'"tts","clone"'),))
    with pytest.raises(ProfileTampered):
        studio.speak("Hello.", voice="joe")


class _BlindDetector:
    """A detector that never finds anything: the studio must refuse, not release."""

    name = "blind"

    def __init__(self, real):
        self.real = real

    def embed(self, samples, rate, mark_id):
        return self.real.embed(samples, rate, mark_id)

    def detect(self, samples, rate):
        return self.real.detect(np.zeros_like(samples), rate)

    def verify(self, samples, rate, mark_id):
        return self.real.verify(np.zeros_like(samples), rate, mark_id)


def test_a_gate_that_fails_stops_the_audio_and_the_ledger_stays_clean(tmp_path):
    plain = Studio(home=tmp_path)
    failing = Studio(home=tmp_path, gate=ReleaseGate(_BlindDetector(plain.watermarker)))
    before = failing.ledger.verify().entries
    with pytest.raises(GateRefused):
        failing.speak("This must not leave.")
    assert failing.ledger.verify().entries == before
    assert not any(tmp_path.glob("*.wav"))


class _BlindOnce(_BlindDetector):
    """Blind to the first mark it is asked about, sighted after: as when a clip of a word or two
    happens not to carry one payload."""

    def __init__(self, real):
        super().__init__(real)
        self.asked: list[int] = []

    def verify(self, samples, rate, mark_id):
        self.asked.append(mark_id)
        return super().verify(samples, rate, mark_id) if len(self.asked) == 1 else self.real.verify(samples, rate, mark_id)


def test_a_refused_mark_is_replaced_by_a_fresh_one_and_only_the_passed_one_is_recorded(tmp_path):
    plain = Studio(home=tmp_path)
    detector = _BlindOnce(plain.watermarker)
    studio = Studio(home=tmp_path, gate=ReleaseGate(detector))
    result = studio.speak("Hi.")
    # refused, passed, and the passed mark again on the final bytes (with their C2PA manifest)
    assert len(detector.asked) == 3 and result.mark_id == detector.asked[1] == detector.asked[2] != detector.asked[0]
    assert studio.ledger.find_mark(result.mark_id) is not None
    assert studio.ledger.find_mark(detector.asked[0]) is None


def test_voicekit_home_is_honoured(tmp_path, monkeypatch):
    monkeypatch.setenv("VOICEKIT_HOME", str(tmp_path / "vk"))
    studio = Studio()
    assert studio.home == tmp_path / "vk"
    assert (tmp_path / "vk" / "registry.db").exists() and (tmp_path / "vk" / "keys").is_dir()


@pytest.mark.parametrize("text, ssml, error, message", [
    ("Hello \ud800 there.", False, BadInput, "unpaired surrogate"),
    ('<speak><prosody volume="+1000dB">Hi.</prosody></speak>', True, BadInput, "-40dB..+40dB"),
    ('<speak><prosody volume="silent">Hello there.</prosody></speak>', True, EmptyText, "only silence"),
])
def test_hostile_text_gets_a_specific_refusal(studio, text, ssml, error, message):
    with pytest.raises(error, match=message):
        studio.speak(text, ssml=ssml)


def test_long_numbers_are_read_digit_by_digit_and_endless_ones_refused(studio):
    result = studio.speak("Your reference is " + "7" * 37 + ".")
    assert len(result.audio) / result.sample_rate > 37 * 0.2  # "seven" 37 times, not a cardinal
    with pytest.raises(BadInput, match="4301 digits is too long"):
        studio.speak("Your reference is " + "7" * 4301 + ".")


def test_a_rotation_by_another_process_is_taken_up_by_a_running_studio(tmp_path):
    """`voicekit keys rotate` beside a running server: the server finds the new key's marks, and
    signs and marks its own outputs with the new key from its next request."""
    server, cli = Studio(home=tmp_path), Studio(home=tmp_path)
    old = server.keys.current_key_id
    new = cli.rotate_keys()
    made = cli.speak("Made with the new key after the rotation.")
    finding = server.detect(made.encoded)
    assert finding.watermarked and finding.mark_id == made.mark_id
    own = server.speak("And the server speaks with it too.")
    assert own.provenance["signature"]["key_id"] == new != old
    assert cli.detect(own.encoded).mark_id == own.mark_id
    assert server.ledger.verify().ok

"""The coqui engine round trip: a coqui-tts model folder the test builds and saves (random weights,
see tiny_coqui.py) is registered as a voice, loaded through the engine and spoken through the
guarded path; a cloning model conditions on reference audio."""
import json
import shutil

import numpy as np
import pytest

from consent.errors import ScopeNotAllowed, VoiceRevoked
from tests.voicekit.test_cli import one_line_error, voicekit
from tests.voicekit.tiny_coqui import build_tiny_vits
from voicekit.engines.coqui import CoquiEngine
from voicekit.errors import BadInput, EngineUnavailable


@pytest.fixture(scope="module")
def model_folder(tmp_path_factory):
    return build_tiny_vits(tmp_path_factory.mktemp("tiny-vits"))


@pytest.fixture(scope="module")
def studio(tmp_path_factory):
    from voicekit import Studio

    return Studio(home=tmp_path_factory.mktemp("coqui-home"))


@pytest.fixture(scope="module")
def tiny_voice(studio, model_folder):
    return studio.add_model_voice("tiny", model_folder, licence="random weights, test only", speaker="ana")


def test_a_saved_model_folder_loads_and_speaks(model_folder):
    engine = CoquiEngine.open(model_folder, licence="test", speaker="ana")
    samples = engine.synthesize("Hello from a coqui model.")
    assert engine.sample_rate == 16000 and engine.family == "vits"
    assert samples.dtype == np.float32 and len(samples) > 0.2 * engine.sample_rate
    assert np.all(np.isfinite(samples)) and np.abs(samples).max() > 0
    assert engine.clones_from_audio  # it carries a speaker encoder
    assert f"sha256:{engine.files.sha256[:16]}" in engine.model_version


def test_renders_on_threads_at_once_are_each_the_same_as_alone(model_folder):
    """The API renders on several threads: one request's seeded noise must not be drawn by another's."""
    from concurrent.futures import ThreadPoolExecutor

    engine = CoquiEngine.open(model_folder, licence="test", speaker="ana")
    sentences = ["The tide came in over the sand.", "By morning the boats were floating again."]
    alone = {s: engine.synthesize(s) for s in sentences}
    with ThreadPoolExecutor(4) as pool:
        together = list(pool.map(lambda i: (sentences[i % 2], engine.synthesize(sentences[i % 2])), range(16)))
    for sentence, samples in together:
        assert np.array_equal(samples, alone[sentence]), sentence


def test_a_registered_model_voice_speaks_through_every_safeguard(studio, tiny_voice, tmp_path):
    assert tiny_voice.kind == "model" and tiny_voice.details["coqui"]["sha256"]
    assert [e.kind for e in studio.ledger.entries()].count("voice-added") >= 1
    result = studio.speak("A registered model voice.", voice="tiny")
    body = result.provenance["body"]
    assert body["engine"] == "coqui" and tiny_voice.details["coqui"]["sha256"][:16] in body["model"]
    finding = studio.detect(result.save(tmp_path / "tiny.wav"))
    assert finding.watermarked and finding.mark_id == result.mark_id


def test_changed_model_files_are_refused(studio, model_folder, tmp_path):
    copy = shutil.copytree(model_folder, tmp_path / "copy")
    profile = studio.add_model_voice("copied", copy, licence="test", speaker="ana")
    with (copy / "config.json").open("a") as f:
        f.write("\n")
    from voicekit import Studio

    fresh = Studio(home=studio.home)  # a new process loads the model from disk again
    with pytest.raises(EngineUnavailable, match="changed since the voice was registered"):
        fresh.speak("Hello.", voice=profile.voice_id)


@pytest.mark.parametrize("name, folder, licence, message", [
    ("Tiny!", None, "x", "voice name"),
    ("heart", None, "x", "already registered"),
    ("blank", None, " ", "licence"),
])
def test_bad_registrations_are_refused(studio, model_folder, name, folder, licence, message):
    with pytest.raises(BadInput, match=message):
        studio.add_model_voice(name, folder or model_folder, licence=licence, speaker="ana")


def test_a_folder_without_a_model_is_refused(studio, tmp_path):
    with pytest.raises(EngineUnavailable, match="no config.json"):
        studio.add_model_voice("empty", tmp_path, licence="x")
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(EngineUnavailable, match="no checkpoint"):
        studio.add_model_voice("empty", tmp_path, licence="x")


def test_a_missing_or_unknown_speaker_is_refused_before_anything_is_signed(studio, model_folder):
    with pytest.raises(EngineUnavailable, match="no speaker 'nobody' .*ana, ben"):
        studio.add_model_voice("nobody", model_folder, licence="x", speaker="nobody")
    with pytest.raises(EngineUnavailable, match="could not speak: .*multi-speaker"):
        studio.add_model_voice("nobody", model_folder, licence="x")
    assert "nobody" not in studio.registry.voice_ids()


def test_a_revoked_model_voice_cannot_speak(studio, model_folder):
    studio.add_model_voice("short-lived", model_folder, licence="test", speaker="ben")
    studio.revoke("short-lived", reason="licence ended")
    with pytest.raises(VoiceRevoked):
        studio.speak("Hello.", voice="short-lived")


def test_conditioning_follows_the_references_and_is_computed_once(model_folder, studio):
    engine = CoquiEngine.open(model_folder, licence="test")
    heart = studio.engine("heart")
    joe = studio.engine("joe")
    calls = []

    def references(engine_, text):
        def load():
            calls.append(text)
            return [(engine_.synthesize(text), engine_.sample_rate)]
        return load

    as_heart = engine.cloned("profile:a", references(heart, "The first speaker reads this."))
    as_joe = engine.cloned("profile:b", references(joe, "The second speaker reads this."))
    assert engine.cloned("profile:a", references(heart, "not read again")) is as_heart
    assert len(calls) == 2
    assert not np.allclose(as_heart.conditioning["d_vector"], as_joe.conditioning["d_vector"])
    a, b = as_heart.synthesize("Same words."), as_joe.synthesize("Same words.")
    assert a.dtype == np.float32 and not np.array_equal(a[:min(len(a), len(b))], b[:min(len(a), len(b))])


def test_a_model_without_a_speaker_encoder_does_not_clone(model_folder, tmp_path):
    plain = shutil.copytree(model_folder, tmp_path / "plain")
    config = json.loads((plain / "config.json").read_text())
    config["model_args"].update(speaker_encoder_model_path="", speaker_encoder_config_path="")
    (plain / "config.json").write_text(json.dumps(config))
    engine = CoquiEngine.open(plain, licence="test")
    with pytest.raises(EngineUnavailable, match="does not clone from audio"):
        engine.cloned("profile:x", lambda: [])


def test_clone_with_needs_an_enrolled_profile_and_a_model_voice(studio, tiny_voice):
    with pytest.raises(BadInput, match="not one"):
        studio.speak("Hello.", voice="heart", clone_with="tiny")


def test_the_cli_registers_and_speaks_a_model_voice(model_folder, tmp_path):
    home = tmp_path / "home"
    run = voicekit(home, "voices", "add", "tiny", "--coqui", str(model_folder), "--licence", "test",
                   "--speaker", "ana", "--json")
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["voice"] == "tiny"
    out = tmp_path / "tiny.wav"
    run = voicekit(home, "say", "Hello.", "--voice", "tiny", "-o", str(out), "--json")
    assert run.returncode == 0, run.stderr and out.exists()
    run = voicekit(home, "voices", "--json")
    assert {"voice": "tiny", "kind": "model"}.items() <= next(
        r for r in json.loads(run.stdout) if r["voice"] == "tiny").items()
    run = voicekit(home, "voices", "add", "bad", "--coqui", str(tmp_path), "--licence", "x")
    assert run.returncode == 6 and "no config.json" in one_line_error(run)


def test_downloading_an_unknown_model_fails_without_the_network(tmp_path):
    run = voicekit(tmp_path, "models", "download", "tts_models/en/nowhere/vits")
    assert run.returncode == 2 and "has no text-to-speech model" in one_line_error(run)


def test_a_model_voice_only_has_the_tts_scope(studio, tiny_voice):
    with pytest.raises(ScopeNotAllowed):
        studio.registry.check_at("tiny", now=studio.clock(), scope="sing")

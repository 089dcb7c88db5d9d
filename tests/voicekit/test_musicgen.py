"""A song's backing from MusicGen (a tiny random-weight model the tests build; see tiny_musicgen):
the backing stem goes through the same release path as the band's, the master names the model
that played, a seed gives the same backing, and a missing model is refused before any work."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from tests.voicekit.tiny_musicgen import build_tiny_musicgen
from voicekit.errors import SongError
from voicekit.music import musicgen
from voicekit.music.style import style_named

LYRICS = "[chorus]\nCarry me over the water\n"


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return build_tiny_musicgen(tmp_path_factory.mktemp("musicgen"))


def test_a_seed_gives_the_same_backing_and_long_backings_are_continued(model):
    band = musicgen.loaded(model)
    style = style_named("lofi", tempo=76, key="D")
    prompt = musicgen.prompt_for(style)
    assert "76 bpm" in prompt and "D minor" in prompt and "no vocals" in prompt
    seconds = 3 * band._max_tokens / band.frame_rate  # three windows and more
    first = band.render(prompt, seconds, 44100, seed=3)
    assert first.shape == (round(seconds * 44100), 2) and np.all(first[:, 0] == first[:, 1])
    tail = first[-44100:, 0]
    assert np.sqrt(np.mean(tail ** 2)) > 1e-4  # the last window is sound, not padding
    assert np.array_equal(band.render(prompt, seconds, 44100, seed=3), first)
    assert not np.array_equal(band.render(prompt, seconds, 44100, seed=4), first)


def test_a_song_over_a_musicgen_backing_is_released_and_names_its_model(studio, model, tmp_path):
    result = studio.song(LYRICS, voice="heart", style="pop", seed=2, format="wav", stems=True,
                         backing=f"musicgen:{model}")
    assert set(result.stems) == {"vocals", "backing"}
    body = result.master.provenance["body"]
    assert body["backing"] == f"musicgen:{model.name}" and "no vocals" in body["backing_prompt"]
    assert len(body["backing_model_sha256"]) == 64 and body["stem_marks"].keys() == {"vocals", "backing"}
    result.save(tmp_path / "song.wav", tmp_path / "stems")
    found = studio.detect(tmp_path / "song.wav")
    assert found.mark_id == result.master.mark_id
    assert studio.ledger.entry(found.provenance["ledger_seq"]).body["backing"] == body["backing"]
    backing = studio.detect(tmp_path / "stems" / "backing.wav")
    assert backing.mark_id == result.stems["backing"].mark_id
    assert studio.ledger.entry(backing.provenance["ledger_seq"]).body["stem"] == "backing"


def test_a_missing_model_is_refused_before_any_work_naming_the_download(studio, tmp_path):
    head = studio.ledger.head()
    with pytest.raises(SongError, match="voicekit models download musicgen:small --accept-licence"):
        studio.song(LYRICS, voice="heart", backing="musicgen:small")
    with pytest.raises(SongError, match="not a MusicGen model folder"):
        studio.song(LYRICS, voice="heart", backing=f"musicgen:{tmp_path}")
    with pytest.raises(SongError, match="use 'band' or 'musicgen:'"):
        studio.song(LYRICS, voice="heart", backing="orchestra")
    assert studio.ledger.head() == head


def test_the_cli_asks_for_the_licence_before_downloading_and_names_a_missing_model(tmp_path):
    def voicekit(*args, **env):
        return subprocess.run([sys.executable, "-m", "voicekit.cli", "--home", str(tmp_path / "home"), *args],
                              capture_output=True, text=True, timeout=300, env=os.environ | env)

    refused = voicekit("models", "download", "musicgen:small")
    assert refused.returncode == 2 and refused.stdout == ""
    assert refused.stderr.strip().splitlines() == [refused.stderr.strip()] and "--accept-licence" in refused.stderr
    # HF_HUB_OFFLINE: a failing download without touching the network
    failed = voicekit("models", "download", "musicgen:small", "--accept-licence", HF_HUB_OFFLINE="1")
    assert failed.returncode != 0 and failed.stderr.count("\n") == 1
    assert "downloading musicgen:small failed" in failed.stderr
    assert not any((tmp_path / "home" / "models").iterdir())  # nothing half-written
    (tmp_path / "lyrics.txt").write_text(LYRICS)
    missing = voicekit("song", str(tmp_path / "lyrics.txt"), "-o", str(tmp_path / "x.mp3"), "--backing",
                       "musicgen:medium", "--json")
    assert missing.returncode == 2 and "voicekit models download musicgen:medium" in missing.stderr
    assert not (tmp_path / "x.mp3").exists()
    assert json.loads(voicekit("ledger", "verify", "--json").stdout)["ok"]

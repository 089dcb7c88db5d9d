"""POST /v1/songs: a song as a job with stages, its master and stems fetched when done, every
check made before the job is queued."""
import io
import zipfile

import soundfile as sf

from tests.api.conftest import bearer, finished
from tests.api.test_http import problem

LYRICS = "[verse]\nSunlight on the kitchen floor\n[chorus]\nStay a while, stay a while\n"


def test_a_song_job_reports_its_stages_and_gives_a_marked_master_and_stems(client, keys, service):
    headers = bearer(keys["speak"])
    queued = client.post("/v1/songs", headers=headers, json={"lyrics": LYRICS, "style": "ballad", "stems": True,
                                                             "format": "flac", "seed": 7, "tempo": 120})
    assert queued.status_code == 202, queued.text
    job_id = queued.json()["job_id"]
    done = finished(client, headers, f"/v1/songs/{job_id}")
    assert done["status"] == "done", done
    assert done["stages_done"] == done["stages"] == 5 and done["stage"] == "master"
    assert abs(done["figures"]["lufs"] + 14) <= 0.5
    master = client.get(f"/v1/songs/{job_id}/result", headers=headers)
    assert master.status_code == 200 and master.headers["content-type"] == "audio/flac"
    stereo, _ = sf.read(io.BytesIO(master.content))
    assert stereo.ndim == 2 and stereo.shape[1] == 2
    found = service.studio.detect(master.content)
    assert f"{found.mark_id:08x}" == done["mark_id"] == master.headers["x-voicekit-mark-id"]
    assert found.provenance["ledger_seq"] == done["ledger_seq"]
    archive = zipfile.ZipFile(io.BytesIO(client.get(f"/v1/songs/{job_id}/stems", headers=headers).content))
    assert sorted(archive.namelist()) == ["bass.wav", "chords.wav", "drums.wav", "song.mid", "song.musicxml",
                                          "vocals.wav"]
    assert service.studio.detect(archive.read("drums.wav")).provenance["voice"] == "heart"
    # private to its owner
    problem(client.get(f"/v1/songs/{job_id}", headers=bearer(keys["bob"])), 404, "unknown-song")
    assert job_id in [j["job_id"] for j in client.get("/v1/songs", headers=headers).json()["jobs"]]


def test_bad_songs_are_refused_before_a_job_is_queued(client, keys):
    headers = bearer(keys["speak"])
    before = client.get("/v1/songs", headers=headers).json()["jobs"]
    problem(client.post("/v1/songs", headers=headers, json={"lyrics": "[refrain]\nla la\n"}), 400, "invalid-song")
    problem(client.post("/v1/songs", headers=headers, json={"lyrics": LYRICS, "style": "rock"}), 422,
            "invalid-request")
    problem(client.post("/v1/songs", headers=headers, json={"lyrics": LYRICS, "progression": "I V nope"}), 400,
            "invalid-song")
    problem(client.post("/v1/songs", headers=headers, json={"lyrics": LYRICS, "score": "<score-partwise/>"}), 422,
            "invalid-request")
    problem(client.post("/v1/songs", headers=headers, json={"score": "<score-partwise><part"}), 400, "invalid-score")
    problem(client.post("/v1/songs", headers=headers, json={"lyrics": LYRICS, "voice": "profile:nobody"}), 404,
            "unknown-voice")
    problem(client.post("/v1/songs", headers=bearer(keys["audit"]), json={"lyrics": LYRICS}), 403, "missing-scope")
    problem(client.post("/v1/songs", headers=headers, json={"lyrics": LYRICS, "backing": "musicgen:/srv/models"}), 422,
            "invalid-request")  # a caller never names a folder on the server
    missing = problem(client.post("/v1/songs", headers=headers, json={"lyrics": LYRICS, "backing": "musicgen:small"}),
                      400, "invalid-song")
    assert "voicekit models download musicgen:small" in missing["detail"]
    assert client.get("/v1/songs", headers=headers).json()["jobs"] == before
    problem(client.get("/v1/songs/nope/result", headers=headers), 404, "unknown-song")

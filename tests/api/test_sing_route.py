"""POST /v1/sing: a JSON score or an uploaded score file in, marked and gated audio out."""
import json

from detection.decoding import decode_bytes
from tests.api.conftest import bearer
from tests.api.test_http import problem

SCORE = {"tempo": 100, "notes": [{"pitch": "D4", "start": 0, "duration": 1, "lyric": "sing-"},
                                 {"pitch": "F#4", "start": 1, "duration": 2, "lyric": "ing"}]}


def test_a_json_score_is_sung_marked_and_recorded(client, keys, service):
    sung = client.post("/v1/sing", headers=bearer(keys["speak"]), json={"score": SCORE, "format": "mp3"})
    assert sung.status_code == 200, sung.text
    assert sung.headers["content-type"] == "audio/mpeg"
    mark = int(sung.headers["x-voicekit-mark-id"], 16)
    # The gate's own test of the bytes served, with the mark the headers name. (Blind attribution of
    # a 2 s sung clip misses now and then: issue 17's detector work, not this route's.)
    assert service.studio.gate.check(sung.content, mark).p_value <= service.studio.gate.threshold
    entry = service.studio.ledger.find_mark(mark)
    assert entry.body["kind"] == "singing" and entry.body["voice"] == "heart"
    samples, rate = decode_bytes(sung.content)
    assert len(samples) / rate > 1.8


def test_an_uploaded_score_file_is_sung(client, keys):
    sung = client.post("/v1/sing", headers=bearer(keys["speak"]), data={"voice": "joe", "transpose": "-12"},
                       files={"file": ("song.json", json.dumps(SCORE).encode(), "application/json")})
    assert sung.status_code == 200, sung.text
    assert sung.headers["content-type"] == "audio/wav"


def test_bad_scores_and_callers_get_problems(client, keys):
    headers = bearer(keys["speak"])
    problem(client.post("/v1/sing", headers=headers, json={"score": {"notes": [
        {"pitch": 60, "start": 0, "duration": 1}]}}), 400, "invalid-score")
    out = client.post("/v1/sing", headers=headers, json={"score": SCORE, "transpose": 24})
    problem(out, 400, "score-out-of-range")
    assert "semitones above its top" in out.json()["detail"]
    problem(client.post("/v1/sing", headers=headers, files={"file": ("song.txt", b"la la")}), 400, "invalid-score")
    problem(client.post("/v1/sing", headers=headers, json={"score": SCORE, "voice": "profile:nobody"}),
            404, "unknown-voice")
    problem(client.post("/v1/sing", headers=bearer(keys["audit"]), json={"score": SCORE}), 403, "missing-scope")

"""The HTTP service through real HTTP requests (TestClient): auth and scopes on every route,
speech in every format with its provenance, the OpenAI-compatible route, limits, ownership of
enrolled voices, detection, and problem bodies for every refusal."""
from __future__ import annotations

import base64
import hashlib
import io
import json

import numpy as np
import pytest
import soundfile as sf

from api.limits import RateLimiter
from api.problems import PROBLEM_JSON, Problem
from detection.decoding import decode_bytes
from tests.api.conftest import bearer
from tests.conftest import HUMAN_RECORDING
from tests.voicekit.test_enrollment import REFERENCE_TEXTS

SENTENCE = "The harbour lights came on one by one as the evening ferry pulled away."

# Every /v1 route: (method, path, the scope it needs, request kwargs that get past validation).
ROUTES = [
    ("GET", "/v1/voices", "speak", {}),
    ("POST", "/v1/consent/challenges", "enroll", {"json": {"name": "Ann Lee"}}),
    ("POST", "/v1/profiles", "enroll", {"data": {"challenge_id": "nope"},
                                        "files": [("consent", ("c.wav", b"x")), ("references", ("r.wav", b"x"))]}),
    ("GET", "/v1/profiles", "profiles", {}),
    ("GET", "/v1/profiles/profile:none", "profiles", {}),
    ("POST", "/v1/profiles/profile:none/revoke", "profiles", {"json": {}}),
    ("POST", "/v1/profiles/profile:none/grants", "profiles", {"json": {"owner": "bob"}}),
    ("POST", "/v1/speech", "speak", {"json": {"text": "Hello there."}}),
    ("POST", "/v1/audio/speech", "speak", {"json": {"model": "tts-1", "input": "Hello there.", "voice": "heart"}}),
    ("POST", "/v1/sing", "speak", {"json": {"score": {"notes": [{"pitch": 62, "start": 0, "duration": 1,
                                                                 "lyric": "la"}]}}}),
    ("POST", "/v1/audiobooks", "speak", {"data": {"text": "Chapter 1\n\nHello there."}}),
    ("GET", "/v1/audiobooks", "speak", {}),
    ("GET", "/v1/audiobooks/none", "speak", {}),
    ("GET", "/v1/audiobooks/none/events", "speak", {}),
    ("GET", "/v1/audiobooks/none/result", "speak", {}),
    ("DELETE", "/v1/audiobooks/none", "speak", {}),
    ("POST", "/v1/songs", "speak", {"json": {"lyrics": "[verse]\nla la la\n", "style": "folk"}}),
    ("GET", "/v1/songs", "speak", {}),
    ("GET", "/v1/songs/none", "speak", {}),
    ("GET", "/v1/songs/none/events", "speak", {}),
    ("GET", "/v1/songs/none/result", "speak", {}),
    ("GET", "/v1/songs/none/stems", "speak", {}),
    ("DELETE", "/v1/songs/none", "speak", {}),
    ("POST", "/v1/detect", "audit", {"files": {"file": ("a.wav", HUMAN_RECORDING.read_bytes())}}),
    ("GET", "/v1/ledger/verify", "audit", {}),
    ("POST", "/v1/audits", "audit", {"files": [("files", ("a.wav", HUMAN_RECORDING.read_bytes()))]}),
    ("GET", "/v1/audits/none", "audit", {}),
    ("GET", "/v1/audits/none/events", "audit", {}),
    ("GET", "/v1/audits/none/report", "audit", {}),
    ("DELETE", "/v1/audits/none", "audit", {}),
    ("POST", "/v1/api-keys", "admin", {"json": {"owner": "carol", "scopes": ["speak"]}}),
    ("GET", "/v1/api-keys", "admin", {}),
    ("DELETE", "/v1/api-keys/000000000000", "admin", {}),
]


def problem(response, status: int, slug: str) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    body = response.json()
    assert body["type"] == f"urn:voicekit:problem:{slug}" and body["status"] == status and body["detail"]
    return body


def test_every_v1_route_is_listed_here(client):
    listed = {(m, p.replace("profile:none", "{voice_id}").replace("/none", "/{job_id}")
               .replace("000000000000", "{key_id}")) for m, p, _, _ in ROUTES}
    served = {(m, p) for p, ops in client.app.openapi()["paths"].items() if p.startswith("/v1")
              for m in (o.upper() for o in ops)}
    assert served == listed


@pytest.mark.parametrize("method,path,scope,kwargs", ROUTES, ids=[f"{m} {p}" for m, p, _, _ in ROUTES])
def test_each_route_needs_a_key_and_its_scope(client, keys, method, path, scope, kwargs):
    problem(client.request(method, path, **kwargs), 401, "missing-api-key")
    problem(client.request(method, path, headers=bearer("vk_0123456789ab_" + "x" * 43), **kwargs),
            401, "invalid-api-key")
    other = "audit" if scope != "audit" else "speak"
    body = problem(client.request(method, path, headers=bearer(keys[other]), **kwargs), 403, "missing-scope")
    assert body["required_scope"] == scope
    allowed = client.request(method, path, headers=bearer(keys[scope]), **kwargs)
    assert allowed.status_code not in (401, 403), allowed.text
    assert allowed.status_code < 500, allowed.text


def test_health_readiness_and_docs(client):
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz").json()
    assert ready["status"] == "ready" and ready["voices"] >= 2
    assert "swagger" in client.get("/docs").text.lower()
    spec = client.get("/openapi.json").json()
    assert "HTTPBearer" in spec["components"]["securitySchemes"]


def test_speech_returns_marked_audio_with_signed_provenance(client, keys, service):
    response = client.post("/v1/speech", headers=bearer(keys["speak"]),
                           json={"text": SENTENCE, "voice": "joe", "style": "calm", "format": "flac"})
    assert response.status_code == 200 and response.headers["content-type"] == "audio/flac"
    mark_id = int(response.headers["X-Voicekit-Mark-Id"], 16)
    entry = json.loads(base64.urlsafe_b64decode(response.headers["X-Voicekit-Provenance"]))
    assert entry["body"]["mark_id"] == mark_id and entry["body"]["voice"] == "joe"
    assert entry["body"]["style"] == "calm" and entry["seq"] == int(response.headers["X-Voicekit-Ledger-Seq"])
    stored = service.studio.ledger.find_mark(mark_id)
    assert stored.hash == entry["hash"] and stored.signature.as_dict() == entry["signature"]
    finding = service.studio.detect(response.content)
    assert finding.watermarked and finding.mark_id == mark_id


@pytest.mark.parametrize("fmt", ["mp3", "opus", "aac", "flac", "wav", "pcm"])
def test_openai_shaped_requests_in_every_response_format(client, keys, service, fmt):
    # The body the OpenAI Python client sends for client.audio.speech.create(...)
    response = client.post("/v1/audio/speech", headers=bearer(keys["speak"]) | {"User-Agent": "OpenAI/Python 1.99"},
                           json={"model": "tts-1", "input": SENTENCE, "voice": "heart", "response_format": fmt,
                                 "speed": 1.1})
    assert response.status_code == 200, response.text
    mark_id = int(response.headers["X-Voicekit-Mark-Id"], 16)
    if fmt == "pcm":
        samples = sf.read(io.BytesIO(response.content), samplerate=24000, channels=1, format="RAW",
                          subtype="PCM_16", dtype="float32")[0]
        rate = 24000
    else:
        samples, rate = decode_bytes(response.content)
    assert 2.5 < len(samples) / rate < 8
    assert service.studio.watermarker.verify(samples, rate, mark_id).p_value < 1e-6  # the gate's own test
    assert service.studio.ledger.find_mark(mark_id).body["format"] == fmt


def test_streamed_speech_sends_gated_chunks_with_the_mark_up_front(client, keys, service):
    text = " ".join([SENTENCE, "Gulls circled the mast and cried.", "Then the town was quiet again."])
    with client.stream("POST", "/v1/audio/speech", headers=bearer(keys["speak"]),
                       json={"input": text, "voice": "heart", "response_format": "pcm", "stream": True}) as response:
        assert response.status_code == 200
        mark_id = int(response.headers["X-Voicekit-Mark-Id"], 16)
        assert json.loads(base64.urlsafe_b64decode(response.headers["X-Voicekit-Provenance"]))["body"]["stream"]
        data = b"".join(response.iter_bytes())
    # Each chunk was gated with the stream's mark; the ledger's closing entry names exactly the bytes sent.
    closing = [e for e in service.studio.ledger.entries() if e.kind == "stream-end" and e.body["mark_id"] == mark_id]
    assert closing and closing[0].body["complete"] and closing[0].body["chunks"] >= 3
    assert closing[0].body["audio_sha256"] == hashlib.sha256(data).hexdigest()


def test_a_streamed_wav_has_a_header_and_flac_cannot_stream(client, keys):
    response = client.post("/v1/speech", headers=bearer(keys["speak"]),
                           json={"text": SENTENCE, "format": "wav", "stream": True})
    assert response.status_code == 200 and response.content[:4] == b"RIFF"
    assert len(response.content) > 24000
    problem(client.post("/v1/speech", headers=bearer(keys["speak"]),
                        json={"text": SENTENCE, "format": "flac", "stream": True}), 400, "unsupported-stream-format")
    problem(client.post("/v1/audio/speech", headers=bearer(keys["speak"]),
                        json={"input": SENTENCE, "stream": True}), 400, "unsupported-stream-format")


def test_bad_requests_get_specific_problems(client, keys):
    speak = bearer(keys["speak"])
    body = problem(client.post("/v1/speech", headers=speak, json={"text": "Hi.", "voice": "nobody"}),
                   404, "unknown-voice")
    assert "heart" in body["known"]
    problem(client.post("/v1/speech", headers=speak, json={"text": "x" * 2001}), 413, "text-too-long")
    problem(client.post("/v1/speech", headers=speak, json={"text": "Hi.", "ssml": "<speak/>"}), 422, "invalid-request")
    problem(client.post("/v1/speech", headers=speak, json={"ssml": "<speak><prosody rate='9'>Hi</prosody></speak>"}),
            400, "invalid-ssml")
    problem(client.post("/v1/audio/speech", headers=speak, json={"input": "Hi.", "speed": 3}), 422, "invalid-request")
    problem(client.post("/v1/speech", headers=speak, json={"text": "   "}), 400, "empty-text")
    problem(client.post("/v1/speech", headers=speak, content=b"{not json", ), 422, "invalid-request")
    problem(client.get("/v1/nothing-here", headers=speak), 404, "not-found")
    # Found by the schemathesis run: a lone character outside the engines' reach, a superscript digit.
    problem(client.post("/v1/speech", headers=speak, json={"text": "\U00014cef"}), 400, "empty-text")
    assert client.post("/v1/speech", headers=speak, json={"text": "\u00b9A"}).status_code == 200


@pytest.mark.parametrize("body, status, slug", [
    ('{"text": "Hello \\ud800 there."}', 400, "bad-input"),  # a lone surrogate, valid as a JSON escape
    ({"text": "I owe you " + "7" * 40 + " dollars."}, 200, None),  # read digit by digit
    ({"text": "Call " + "9" * 1900}, 400, "bad-input"),
    ({"ssml": '<speak><say-as interpret-as="cardinal">1.' + "5" * 400 + '</say-as></speak>'}, 400, "invalid-ssml"),
    ({"ssml": '<speak><prosody volume="silent">Hi there.</prosody></speak>'}, 400, "empty-text"),
    ({"ssml": '<speak><prosody volume="+1000dB">Hi.</prosody></speak>'}, 400, "invalid-ssml"),
])
def test_hostile_speech_requests_get_their_4xx(client, keys, body, status, slug):
    if isinstance(body, str):
        answer = client.post("/v1/speech", headers=bearer(keys["speak"]) | {"Content-Type": "application/json"},
                             content=body.encode())
    else:
        answer = client.post("/v1/speech", headers=bearer(keys["speak"]), json=body)
    if slug is None:
        assert answer.status_code == status, answer.text
    else:
        problem(answer, status, slug)


def test_an_upload_that_decodes_to_hours_is_refused_unread(client, keys):
    buffer = io.BytesIO()
    with sf.SoundFile(buffer, "w", 8000, 1, format="FLAC") as f:
        for _ in range(120):  # two hours of silence in about 200 kB
            f.write(np.zeros(8000 * 60, np.float32))
    answer = client.post("/v1/detect", headers=bearer(keys["audit"]), files={"file": ("quiet.flac", buffer.getvalue())})
    problem(answer, 413, "audio-too-long")


def test_body_and_upload_limits(client, keys):
    audit = bearer(keys["audit"])
    problem(client.post("/v1/detect", headers=audit, files={"file": ("big.wav", b"0" * (9 * 1024 * 1024))}),
            413, "body-too-large")
    problem(client.post("/v1/detect", headers=audit, files={"file": ("big.wav", b"0" * (5 * 1024 * 1024))}),
            413, "upload-too-large")  # under the body limit, over the audio upload limit
    problem(client.post("/v1/detect", headers=audit, files={"file": ("a.wav", b"")}), 400, "empty-upload")
    problem(client.post("/v1/detect", headers=audit, files={"file": ("a.wav", b"not audio at all")}),
            400, "unreadable-audio")


def test_each_key_has_its_own_rate_limit(client, service):
    _, slow = service.access.create_key("dave", ("speak",), service.studio.clock(), rate_per_minute=3)
    codes = [client.get("/v1/voices", headers=bearer(slow)).status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    refused = client.get("/v1/voices", headers=bearer(slow))
    assert int(refused.headers["Retry-After"]) >= 1
    problem(refused, 429, "rate-limited")


def test_a_rate_limit_refills_with_time():
    limiter = RateLimiter()
    for _ in range(60):
        limiter.take("k", 60, now=100.0)
    with pytest.raises(Problem):
        limiter.take("k", 60, now=100.0)
    limiter.take("k", 60, now=101.5)  # one token a second


def test_a_revoked_key_is_refused_at_once(client, keys):
    admin = bearer(keys["admin"])
    made = client.post("/v1/api-keys", headers=admin, json={"owner": "erin", "scopes": ["speak"]}).json()
    assert client.get("/v1/voices", headers=bearer(made["key"])).status_code == 200
    assert client.delete(f"/v1/api-keys/{made['key_id']}", headers=admin).json()["revoked_at"]
    problem(client.get("/v1/voices", headers=bearer(made["key"])), 401, "invalid-api-key")
    listed = client.get("/v1/api-keys", headers=admin).json()["keys"]
    assert all("key" not in k and "secret" not in json.dumps(k) for k in listed)


def test_detect_tells_our_audio_from_a_human_recording(client, keys):
    spoken = client.post("/v1/speech", headers=bearer(keys["speak"]), json={"text": SENTENCE, "format": "mp3"})
    found = client.post("/v1/detect", headers=bearer(keys["audit"]),
                        files={"file": ("x.mp3", spoken.content)}).json()
    assert found["watermarked"] and found["mark_id"] == spoken.headers["X-Voicekit-Mark-Id"]
    assert found["provenance"]["voice"] == "heart"
    human = client.post("/v1/detect", headers=bearer(keys["audit"]),
                        files={"file": ("h.wav", HUMAN_RECORDING.read_bytes())}).json()
    assert not human["watermarked"] and human["provenance"] is None
    assert client.get("/v1/ledger/verify", headers=bearer(keys["audit"])).json()["ok"]


@pytest.fixture(scope="module")
def enrolled(client, keys, service):
    """alice enrolls a voice over HTTP (a multipart upload), from heart readings made straight by
    the engine; the challenge has fixed words that heart reads reliably."""
    engine = service.studio.engine("heart")

    def wav(text: str) -> bytes:
        buffer = io.BytesIO()
        sf.write(buffer, engine.synthesize(text), engine.sample_rate, format="WAV")
        return buffer.getvalue()

    challenge = service.studio.consent_challenge("Mary Jones", nonce=("harbor", "pencil", "tiger", "violin"))
    files = [("consent", ("consent.wav", wav(challenge.phrase)))] + [
        ("references", (f"ref-{i}.wav", wav(t))) for i, t in enumerate(REFERENCE_TEXTS)]
    response = client.post("/v1/profiles", headers=bearer(keys["alice"]), files=files,
                           data={"challenge_id": challenge.challenge_id, "name": "Mary Jones", "scopes": "tts"})
    assert response.status_code == 201, response.text
    return response.json()


def test_the_consent_challenge_route_issues_a_statement(client, keys):
    made = client.post("/v1/consent/challenges", headers=bearer(keys["enroll"]), json={"name": "Ann Lee"})
    assert made.status_code == 201 and "Ann Lee" in made.json()["phrase"]


def test_an_enrolled_voice_is_its_owners_until_granted(client, keys, enrolled):
    voice = enrolled["voice_id"]
    assert enrolled["owner"] == "alice" and enrolled["kind"] == "clone"
    alice, bob = bearer(keys["alice"]), bearer(keys["bob"])
    assert client.post("/v1/speech", headers=alice, json={"text": SENTENCE, "voice": voice}).status_code == 200
    assert voice in [v["voice_id"] for v in client.get("/v1/voices", headers=alice).json()["voices"]]
    assert voice not in [v["voice_id"] for v in client.get("/v1/voices", headers=bob).json()["voices"]]
    # Another owner's profile is answered exactly as one that does not exist (no oracle for ids).
    refused = problem(client.post("/v1/speech", headers=bob, json={"text": SENTENCE, "voice": voice}),
                      404, "unknown-voice")
    missing = problem(client.post("/v1/speech", headers=bob, json={"text": SENTENCE, "voice": "profile:0123456789ab"}),
                      404, "unknown-voice")
    assert refused["known"] == missing["known"] == ["heart", "joe"] and voice not in str(refused["known"])
    ssml = f'<speak>Hello. <voice name="{voice}">It is me.</voice></speak>'
    problem(client.post("/v1/speech", headers=bob, json={"ssml": ssml}), 404, "unknown-voice")
    problem(client.get(f"/v1/profiles/{voice}", headers=bob), 404, "unknown-profile")

    assert client.post(f"/v1/profiles/{voice}/grants", headers=alice, json={"owner": "bob"}).status_code == 201
    assert client.post("/v1/speech", headers=bob, json={"text": SENTENCE, "voice": voice}).status_code == 200
    assert client.get(f"/v1/profiles/{voice}", headers=bob).json()["status"] == "active"
    problem(client.post(f"/v1/profiles/{voice}/revoke", headers=bob, json={}), 403, "not-profile-owner")

    listed = client.get("/v1/profiles", headers=alice).json()["profiles"]
    assert [p["voice_id"] for p in listed] == [voice]
    revoked = client.post(f"/v1/profiles/{voice}/revoke", headers=alice, json={"reason": "asked by Mary"})
    assert revoked.json()["status"] == "revoked"
    problem(client.post("/v1/speech", headers=alice, json={"text": SENTENCE, "voice": voice}), 403, "voice-revoked")


def test_a_refused_enrollment_lists_its_failures(client, keys, service):
    challenge = service.studio.consent_challenge("Tom Reed")
    human = HUMAN_RECORDING.read_bytes()
    response = client.post("/v1/profiles", headers=bearer(keys["enroll"]),
                           data={"challenge_id": challenge.challenge_id, "name": "Tom Reed"},
                           files=[("consent", ("c.wav", human)), ("references", ("r.wav", human))])
    body = problem(response, 422, "enrollment-refused")
    assert body["failures"]

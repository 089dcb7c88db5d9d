"""The service on records an attacker edited with the database's own client (the home's SQLite files,
or PostgreSQL): a revoked voice revived in the registry does not speak, a key escalated in the
database is refused, and a broken ledger stops all releases with a problem the operator can act on."""
from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from api.settings import ServiceSettings
from tests.api.conftest import SETTINGS, bearer
from tests.postgres import edit_records


@pytest.fixture
def attacked(tmp_path, database_url):
    home = tmp_path / "attacked"
    with TestClient(create_app(ServiceSettings(home=home, **SETTINGS))) as client:
        yield home, client, client.app.state.service


def _problem(response, status: int, slug: str) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["type"] == f"urn:voicekit:problem:{slug}"
    return body


def test_revival_escalation_and_a_broken_ledger_are_refused(attacked):
    home, client, service = attacked
    _, speaker = service.access.create_key("alice", ("speak",), service.studio.clock())
    key, admin_to_be = service.access.create_key("mallory", ("speak",), service.studio.clock())
    _, auditor = service.access.create_key("audit", ("audit",), service.studio.clock())

    service.studio.revoke("joe", reason="licence withdrawn")
    edit_records(home, "registry.db",
                 "UPDATE voices SET revoked_at = NULL, revoked_reason = NULL WHERE voice_id = 'joe'")
    edit_records(home, "registry.db", "UPDATE api_keys SET scopes = '[\"speak\", \"admin\"]' WHERE key_id = ?",
                 key.key_id)
    refused = _problem(client.post("/v1/speech", headers=bearer(speaker), json={"text": "Hello.", "voice": "joe"}),
                       403, "voice-revoked")
    assert "altered to say active" in refused["detail"]
    _problem(client.get("/v1/api-keys", headers=bearer(admin_to_be)), 401, "invalid-api-key")

    assert client.post("/v1/speech", headers=bearer(speaker), json={"text": "Hello.", "voice": "heart"}).status_code == 200
    edit_records(home, "ledger/ledger.db", "DELETE FROM entries WHERE seq = (SELECT max(seq) FROM entries)")
    broken = _problem(client.post("/v1/speech", headers=bearer(speaker), json={"text": "Hello.", "voice": "heart"}),
                      503, "ledger-broken")
    assert "ledger repair" in broken["detail"]
    report = client.get("/v1/ledger/verify", headers=bearer(auditor)).json()
    assert report["ok"] is False and any("cut off" in p for p in report["problems"])


def test_detect_waits_for_a_render_slot_like_speech(tmp_path):
    settings = ServiceSettings(home=tmp_path, **{**SETTINGS, "speech_slots": 1, "slot_wait_s": 0.2})
    with TestClient(create_app(settings)) as client:
        service = client.app.state.service
        _, auditor = service.access.create_key("audit", ("audit",), service.studio.clock())
        with service.slots.held():  # the only slot is busy rendering
            busy = client.post("/v1/detect", headers=bearer(auditor), files={"file": ("a.wav", b"RIFF....")})
        _problem(busy, 429, "server-busy")
        free = client.post("/v1/detect", headers=bearer(auditor), files={"file": ("a.wav", b"RIFF....")})
        _problem(free, 400, "unreadable-audio")

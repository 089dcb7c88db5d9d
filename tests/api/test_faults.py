"""No route answers a plain 500: a fault of ours is a problem+json naming an incident id, whose
traceback is logged under that id and never sent."""
from __future__ import annotations

import logging

import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from api.problems import PROBLEM_JSON
from api.settings import ServiceSettings


@pytest.fixture(scope="module")
def faulty(tmp_path_factory):
    app = create_app(ServiceSettings(home=tmp_path_factory.mktemp("faulty")))
    with TestClient(app, raise_server_exceptions=False) as client:
        svc = app.state.service
        key = svc.access.create_key("alice", ("speak", "audit", "profiles"), svc.studio.clock())[1]
        yield client, svc, {"Authorization": f"Bearer {key}"}


def test_an_unexpected_error_is_a_problem_with_an_incident_id(faulty, monkeypatch, caplog):
    client, svc, headers = faulty

    def broken(*args, **kwargs):
        raise RuntimeError("secret internal state 0xdeadbeef")

    monkeypatch.setattr(svc.studio, "speak", broken)
    monkeypatch.setattr(svc.studio, "detect", broken)
    monkeypatch.setattr(svc.studio.registry, "statuses_at", broken)
    with caplog.at_level(logging.ERROR, logger="voicekit.api"):
        answers = [client.post("/v1/speech", headers=headers, json={"text": "Hello."}),
                   client.post("/v1/detect", headers=headers, files={"file": ("a.wav", b"RIFF....", "audio/wav")}),
                   client.get("/v1/voices", headers=headers), client.get("/v1/profiles", headers=headers)]
    for answer in answers:
        assert answer.status_code == 500 and answer.headers["content-type"] == PROBLEM_JSON, answer.text
        body = answer.json()
        assert body["type"] == "urn:voicekit:problem:internal-error" and body["incident"] in body["detail"]
        assert "deadbeef" not in answer.text
        assert any(body["incident"] in record.getMessage() and record.exc_info for record in caplog.records)

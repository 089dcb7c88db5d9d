"""The app under TestClient on a temporary home: real studio, registry, ledger and keys.

Keys are made with the real AccessControl (as `voicekit api-keys create` does); `keys[name]`
is the secret of a key with that scope (owner "alice" unless named otherwise).
"""
from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from api.settings import MB, ServiceSettings

SETTINGS = dict(max_body_bytes=8 * MB, max_upload_bytes=4 * MB, max_text_chars=2000)


@pytest.fixture(scope="session")
def client(tmp_path_factory):
    app = create_app(ServiceSettings(home=tmp_path_factory.mktemp("service"), **SETTINGS))
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture(scope="session")
def service(client):
    return client.app.state.service


@pytest.fixture(scope="session")
def keys(service):
    made = {}
    for name, owner, scopes in [
        ("speak", "alice", ("speak",)), ("enroll", "alice", ("enroll",)), ("profiles", "alice", ("profiles",)),
        ("audit", "alice", ("audit",)), ("admin", "root", ("admin",)),
        ("alice", "alice", ("speak", "enroll", "profiles")), ("bob", "bob", ("speak", "profiles")),
    ]:
        made[name] = service.access.create_key(owner, scopes, service.studio.clock())[1]
    return made


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def finished(client, headers, url: str, timeout_s: float = 180) -> dict:
    """The job at `url` once it is no longer queued or running."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        job = client.get(url, headers=headers).json()
        if job["status"] not in ("queued", "running"):
            return job
        time.sleep(0.2)
    raise AssertionError(f"{url} did not finish in {timeout_s} s")

"""Schemathesis over the OpenAPI document: generated requests to every operation, with an admin
key (so every route is reached, not only its 401), must never get a 5xx."""
from __future__ import annotations

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

from api.main import create_app
from api.settings import MB, ServiceSettings


@pytest.fixture(scope="module")
def fuzzed_app(tmp_path_factory):
    # Short texts keep each generated speech request to a fraction of a second.
    app = create_app(ServiceSettings(home=tmp_path_factory.mktemp("fuzz-home"), max_body_bytes=1 * MB,
                                     max_upload_bytes=256 * 1024, max_text_chars=200))
    with TestClient(app):  # runs the lifespan: studio, keys, job runner
        yield app


@pytest.fixture(scope="module")
def admin_key(fuzzed_app):
    svc = fuzzed_app.state.service
    return svc.access.create_key("fuzzer", ("admin",), svc.studio.clock(), rate_per_minute=100_000)[1]


def test_no_generated_request_gets_a_server_error(fuzzed_app, admin_key):
    schema = schemathesis.openapi.from_asgi("/openapi.json", fuzzed_app)
    headers = {"Authorization": f"Bearer {admin_key}"}
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 18
    for operation in operations:
        @given(case=operation.as_strategy())
        @settings(max_examples=12, deadline=None, database=None, suppress_health_check=list(HealthCheck))
        def no_server_error(case) -> None:
            case.call_and_validate(headers=headers, checks=[not_a_server_error])

        no_server_error()

"""Shared fixtures: a studio in a temporary home (real keys, real SQLite, real ledger, real engines)."""
from __future__ import annotations

from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"
HUMAN_RECORDING = DATA / "human-allison-demo-congrats.wav"


@pytest.fixture(scope="session")
def studio(tmp_path_factory):
    from voicekit import Studio

    return Studio(home=tmp_path_factory.mktemp("home"))


@pytest.fixture(scope="session")
def heart_samples(studio):
    """About 4 s of unmarked speech straight from the heart engine (24 kHz), for watermark tests."""
    engine = studio.engine("heart")
    return engine.synthesize("The quick brown fox jumps over the lazy dog. She sells sea shells by the sea shore.")


@pytest.fixture(scope="session")
def postgres():
    """A PostgreSQL server of this test session (one per xdist worker)."""
    from tests.postgres import PostgresServer

    server = PostgresServer()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def redis():
    """A Redis server of this test session (one per xdist worker), the workers' broker."""
    from tests.redisserver import RedisServer

    server = RedisServer()
    yield server
    server.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, monkeypatch):
    """A test that uses it runs twice: on the home's SQLite files (None) and on a fresh PostgreSQL
    database, named by VOICEKIT_DATABASE_URL as an operator names it. Tests of what only a file can
    suffer (deleted, restored from an older copy) take `sqlite_only`."""
    if request.param == "sqlite":
        monkeypatch.delenv("VOICEKIT_DATABASE_URL", raising=False)
        return None
    url = request.getfixturevalue("postgres").new_database()
    monkeypatch.setenv("VOICEKIT_DATABASE_URL", url)
    return url


sqlite_only = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Each phase's report on the test item (item.rep_call...), for fixtures that act on a failure
    (the browser tests' screenshots)."""
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)

"""Audiobooks on Celery workers: the API (its app in this process) stores a job and sends its tasks
to a real Redis; two `voicekit worker` processes share the records on a real PostgreSQL and the
home's job folders, as two machines of a fleet would (each signs with the one key the database
keeps, encrypted)."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from api.settings import ServiceSettings
from consent.database import Database
from tests.api.conftest import SETTINGS, bearer, finished

# Long enough that a chapter renders for seconds: the test's kill lands while it renders.
PARAGRAPH = ("The harbour was quiet before dawn, and the fishing boats rocked against their moorings while the "
             "gulls waited on the harbour wall for the first catch of the day. ")


def book(chapters: int, sentences: int) -> str:
    return "\n\n".join(f"Chapter {i + 1}\n\n" + PARAGRAPH * sentences for i in range(chapters))


class Fleet:
    def __init__(self, home, env: dict[str, str]) -> None:
        self.home, self.env, self.workers = home, env, {}

    def start_worker(self, name: str) -> subprocess.Popen:
        log = open(self.home / f"{name}.log", "wb")
        worker = subprocess.Popen([sys.executable, "-m", "voicekit.cli", "worker", "--name", name],
                                  env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        self.workers[name] = worker
        return worker

    def wait_ready(self, timeout_s: float = 240) -> None:
        """Every worker has loaded its models and listens (Celery logs `ready`)."""
        deadline = time.monotonic() + timeout_s
        for name, worker in self.workers.items():
            while b" ready." not in (self.home / f"{name}.log").read_bytes():
                assert worker.poll() is None, (self.home / f"{name}.log").read_text()[-3000:]
                assert time.monotonic() < deadline, f"worker {name} did not start"
                time.sleep(0.2)

    def stop(self) -> None:
        for worker in self.workers.values():
            if worker.poll() is None:
                os.killpg(worker.pid, signal.SIGTERM)
        for worker in self.workers.values():
            try:
                worker.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(worker.pid, signal.SIGKILL)


@pytest.fixture(scope="module")
def fleet(tmp_path_factory, postgres, redis):
    """The API in this process and two workers, started once: the tests below run in order, the
    last one with the worker the first one left alive."""
    folder = tmp_path_factory.mktemp("fleet")
    env = {"VOICEKIT_HOME": str(folder / "home"), "VOICEKIT_DATABASE_URL": postgres.new_database(),
           "VOICEKIT_BROKER_URL": redis.new_url(), "VOICEKIT_KEY_PASSPHRASE": "fleet passphrase"}
    with pytest.MonkeyPatch.context() as patch:
        for name, value in env.items():
            patch.setenv(name, value)
        fleet = Fleet(folder, {**os.environ, **env})
        with TestClient(create_app(ServiceSettings(home=folder / "home", **SETTINGS))) as client:
            fleet.client, fleet.service = client, client.app.state.service
            fleet.db = Database(env["VOICEKIT_DATABASE_URL"])
            fleet.start_worker("one")
            fleet.start_worker("two")
            try:
                fleet.wait_ready()
                yield fleet
            finally:
                fleet.stop()


def chapters(fleet: Fleet, job_id: str) -> list[tuple]:
    with fleet.db.read() as session:
        return session.execute("SELECT idx, mark_id, claimed_by FROM job_chapters WHERE job_id = :job ORDER BY idx",
                               {"job": job_id}).fetchall()


def outputs(fleet: Fleet, marks: list[int]) -> list[int]:
    """The ledger's output entries for these marks (one each, if each chapter was released once)."""
    with fleet.db.read() as session:
        return [row[0] for row in session.execute(
            "SELECT mark_id FROM entries WHERE kind = 'output' AND mark_id = ANY(:marks)", {"marks": marks})]


def submit(fleet: Fleet, secret: str, text: str) -> str:
    response = fleet.client.post("/v1/audiobooks", headers=bearer(secret), data={"text": text, "output": "zip"})
    assert response.status_code == 202, response.text
    return response.json()["job_id"]


def test_two_workers_share_a_book_and_a_killed_workers_chapter_is_finished_by_the_other(fleet):
    _, secret = fleet.service.access.create_key("alice", ("speak",), fleet.service.studio.clock())
    shared = submit(fleet, secret, book(6, 2))
    job = finished(fleet.client, bearer(secret), f"/v1/audiobooks/{shared}", timeout_s=300)
    assert job["status"] == "done", job
    rows = chapters(fleet, shared)
    marks = [mark for _, mark, _ in rows]
    assert len(set(marks)) == 6 and None not in marks
    assert sorted(outputs(fleet, marks)) == sorted(marks)  # one ledger entry per chapter
    assert len({by for _, _, by in rows}) == 2, rows  # both workers narrated

    killed = submit(fleet, secret, book(4, 10))
    victim, index = _wait_for_a_claim(fleet, killed)
    os.killpg(fleet.workers[victim].pid, signal.SIGKILL)
    job = finished(fleet.client, bearer(secret), f"/v1/audiobooks/{killed}", timeout_s=300)
    assert job["status"] == "done", job
    rows = chapters(fleet, killed)
    marks = [mark for _, mark, _ in rows]
    assert len(set(marks)) == 4 and None not in marks
    assert sorted(outputs(fleet, marks)) == sorted(marks)
    with fleet.db.read() as session:  # nothing else released during the job: no duplicate of the lost chapter
        released = session.execute("SELECT count(*) FROM entries WHERE kind = 'output' AND time >= :t",
                                   {"t": job["started_at"]}).fetchone()[0]
    assert released == 4
    survivor = next(name for name in fleet.workers if name != victim)
    assert rows[index][2].endswith(f":{fleet.workers[survivor].pid}")  # the lost chapter, claimed again


def _wait_for_a_claim(fleet: Fleet, job_id: str) -> tuple[str, int]:
    """(worker name, chapter) as soon as a worker claims a chapter, long before it can finish it."""
    pids = {str(worker.pid): name for name, worker in fleet.workers.items()}
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        for index, mark, by in chapters(fleet, job_id):
            if mark is None and by is not None:
                return pids[by.rsplit(":", 1)[1]], index
        time.sleep(0.02)
    raise AssertionError("no worker claimed a chapter")


def test_long_speech_renders_on_a_worker_and_a_revocation_reaches_it_at_once(fleet):
    service = fleet.service
    _, secret = service.access.create_key("alice", ("speak",), service.studio.clock())
    long_text = PARAGRAPH * 8  # over ServiceSettings.worker_speech_chars: rendered on the worker
    spoken = fleet.client.post("/v1/speech", headers=bearer(secret), json={"text": long_text, "format": "mp3"})
    assert spoken.status_code == 200, spoken.text
    mark = int(spoken.headers["X-Voicekit-Mark-Id"], 16)
    assert outputs(fleet, [mark]) == [mark]
    assert service.studio.detect(spoken.content).mark_id == mark
    refused = fleet.client.post("/v1/speech", headers=bearer(secret),
                                json={"ssml": "<speak>" + long_text + "<break time='forever'/></speak>"})
    assert refused.status_code == 400 and refused.headers["content-type"].startswith("application/problem+json")
    assert "break" in refused.json()["detail"]  # the worker's own refusal, as a problem

    job_id = submit(fleet, secret, book(3, 10))
    _wait_for_a_claim(fleet, job_id)
    service.studio.revoke("heart", reason="the voice's licence ended")  # in this process, not the worker's
    job = finished(fleet.client, bearer(secret), f"/v1/audiobooks/{job_id}", timeout_s=300)
    assert job["status"] == "failed" and "revoked" in job["error"], job
    assert job["chapters_done"] <= 1  # the chapter rendering when it was revoked at most


def test_an_unreachable_broker_is_a_503_and_leaves_no_job_queued(tmp_path, monkeypatch):
    monkeypatch.setenv("VOICEKIT_BROKER_URL", f"redis+socket://{tmp_path / 'no-redis.sock'}")
    monkeypatch.delenv("VOICEKIT_DATABASE_URL", raising=False)
    with TestClient(create_app(ServiceSettings(home=tmp_path / "home", **SETTINGS))) as client:
        service = client.app.state.service
        _, secret = service.access.create_key("alice", ("speak",), service.studio.clock())
        refused = client.post("/v1/audiobooks", headers=bearer(secret), data={"text": book(2, 1)})
        assert refused.status_code == 503, refused.text
        assert refused.json()["type"] == "urn:voicekit:problem:broker-unavailable"
        jobs = client.get("/v1/audiobooks", headers=bearer(secret)).json()["jobs"]
        assert [j["status"] for j in jobs] == ["failed"] and "broker" in jobs[0]["error"]


@pytest.mark.parametrize("arguments, says", [([], "needs a broker"), (["--broker", "amqp://host"], "must name Redis")])
def test_a_worker_without_a_redis_broker_is_refused_in_one_line(tmp_path, arguments, says):
    env = {k: v for k, v in os.environ.items() if k != "VOICEKIT_BROKER_URL"} | {"VOICEKIT_HOME": str(tmp_path)}
    refused = subprocess.run([sys.executable, "-m", "voicekit.cli", "worker", *arguments], env=env,
                             capture_output=True, text=True, timeout=120)
    assert refused.returncode == 2 and says in refused.stderr and len(refused.stderr.strip().splitlines()) == 1

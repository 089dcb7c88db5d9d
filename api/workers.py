"""The heavy work on Celery workers, with Redis as the broker (VOICEKIT_BROKER_URL): audiobooks,
songs and audits, each a task that runs the same `api.jobs` runner the embedded thread would; and
long speech requests (ServiceSettings.worker_speech_chars and up), rendered by `Studio.speak` on a
worker while the API waits for the released bytes (Redis keeps them until they are fetched, at most
SPEECH_RESULT_S).

A worker (`voicekit worker`) is one process that builds the service once (models load there, not
per task) and runs one task at a time; start one per core, on as many machines as share the
records' database server and the home's job folders. The API only stores a job and sends its
task; progress is read from the database by whoever asks.

Delivery is at least once (acks late: a task is acknowledged when it ends, and a worker that dies
leaves it to be delivered again), so every task must be idempotent, and is: a job is worked only
under its claims (`consent.database.Database.hold`), which the system drops with a dead process,
and finished work is never redone. Redis gives a dead worker's unacknowledged task back only after
the visibility timeout, so each worker also sweeps: every SWEEP_S it looks for jobs whose claims
are free though their work is unfinished (their worker died) and sends their task again.
"""
from __future__ import annotations

import base64
import logging
import os
import threading
import warnings
from functools import lru_cache
from typing import Any, Callable

from api.deps import KeyCaller
from api.jobs import RUNNERS, Dispatch, JobRunner, Released
from api.problems import Problem
from voicekit.errors import BadInput, VoicekitError
from voicekit.jobstore import JobStore
from voicekit.studio import SpeechOptions

log = logging.getLogger("voicekit.workers")

BROKER_URL_ENV = "VOICEKIT_BROKER_URL"
VISIBILITY_S = 3600  # Redis re-delivers an unacknowledged task after this; the sweep is faster
SWEEP_S = 5.0
SPEECH_RESULT_S = 600  # a released render waits this long in Redis for the API to fetch it


def broker_url() -> str | None:
    """The broker named by the environment; None: jobs run on the server's own threads."""
    return os.environ.get(BROKER_URL_ENV) or None


BROKER_SCHEMES = ("redis", "rediss", "redis+socket")


def checked_broker(broker: str) -> str:
    """The broker URL, if it names Redis (the one broker voicekit runs on); else BadInput."""
    scheme = broker.partition("://")[0]
    if scheme not in BROKER_SCHEMES:
        raise BadInput(f"the broker URL must name Redis ({', '.join(s + '://' for s in BROKER_SCHEMES)}), "
                       f"not {scheme or broker!r}")
    return broker


@lru_cache(maxsize=4)
def celery_app(broker: str) -> Any:
    """The Celery app for a broker: tasks acknowledged late and given back when their worker is lost,
    one task fetched at a time (a chapter is minutes of work; prefetching would strand them)."""
    from celery import Celery

    app = Celery("voicekit", broker=checked_broker(broker), backend=broker, set_as_current=False)
    app.conf.update(
        task_acks_late=True, task_reject_on_worker_lost=True, worker_prefetch_multiplier=1,
        task_serializer="json", accept_content=["json"], task_ignore_result=True,
        broker_transport_options={"visibility_timeout": VISIBILITY_S},
        broker_connection_retry_on_startup=True, worker_hijack_root_logger=False,
        worker_redirect_stdouts=False, result_expires=SPEECH_RESULT_S,
    )
    for kind in RUNNERS:
        app.task(name=f"voicekit.{kind}", bind=True)(_run_task)
    app.task(name="voicekit.speech", ignore_result=False, acks_late=False)(_speech_task)
    return app


class CeleryDispatch(Dispatch):
    """Sends each job's task to the broker; `parts` tasks for a job that many workers may share."""

    def __init__(self, broker: str, stores: dict[str, JobStore], clock: Callable[[], float]) -> None:
        self.app, self.stores, self.clock = celery_app(broker), stores, clock

    def submit(self, kind: str, job_id: str, parts: int = 1) -> None:
        """Raises BrokerUnavailable, with the job marked failed (it may be submitted again)."""
        from kombu.exceptions import OperationalError

        try:
            for _ in range(max(1, parts)):
                self.app.send_task(f"voicekit.{kind}", args=[job_id])
        except OperationalError as e:
            self.stores[kind].fail(job_id, f"the broker could not be reached: {e}", self.clock())
            raise BrokerUnavailable(f"the job broker cannot be reached ({e}); job {job_id} was not started") from None

    def speak(self, key_id: str, text: str, voice: str, options: dict[str, Any], wait_s: float) -> Released:
        """Render on a worker, for the caller of `key_id`; raises the worker's refusal as a Problem,
        or WorkersUnavailable when no worker answered within `wait_s`."""
        from celery.exceptions import TimeoutError as CeleryTimeout

        pending = self.app.send_task("voicekit.speech", args=[key_id, text, voice, options])
        try:
            answer = pending.get(timeout=wait_s, propagate=True)
        except CeleryTimeout:
            pending.revoke()
            raise WorkersUnavailable(f"no worker rendered the request within {wait_s:.0f} s") from None
        finally:
            pending.forget()
        if "refused" in answer:
            refused = answer["refused"]
            raise Problem(refused["status"], refused["problem"], refused["detail"])
        return Released(base64.b64decode(answer["encoded"]), answer["mark_id"], answer["provenance"])


class BrokerUnavailable(VoicekitError):
    """The Redis broker named by VOICEKIT_BROKER_URL cannot be reached."""

    http_status, problem = 503, "broker-unavailable"


class WorkersUnavailable(VoicekitError):
    """No worker took a request in time: all are busy or none is running."""

    http_status, problem = 503, "workers-unavailable"


# -- in a worker process -------------------------------------------------------------------------
_runners: dict[str, JobRunner] = {}
_runners_lock = threading.Lock()


def runners() -> dict[str, JobRunner]:
    """This process's runners over one service, built on first use (models load once per worker)."""
    with _runners_lock:
        if not _runners:
            from api.deps import Service
            from api.settings import ServiceSettings

            svc = Service.open(ServiceSettings(speech_slots=1))
            _runners.update({kind: runner(svc) for kind, runner in RUNNERS.items()})
        return _runners


def _service() -> Any:
    return next(iter(runners().values())).svc


def _run_task(task: Any, job_id: str) -> None:
    runner = runners()[task.name.removeprefix("voicekit.")]
    runner.run_guarded(job_id)


def _speech_task(key_id: str, text: str, voice: str, options: dict[str, Any]) -> dict[str, Any]:
    """The studio's one release path, on a worker; a refusal travels back as data, so the API can
    answer it as the problem it is (an exception would be re-raised there as an unknown error)."""
    svc = _service()
    try:
        caller = KeyCaller(svc.access, svc.access.key(key_id), live=True)
        result = svc.studio.speak(text, voice, SpeechOptions(**options), caller)
    except VoicekitError as e:
        return {"refused": {"status": e.http_status, "problem": e.problem, "detail": str(e)}}
    return {"encoded": base64.b64encode(result.encoded).decode("ascii"), "mark_id": result.mark_id,
            "provenance": result.provenance}


def sweep(app: Any) -> list[tuple[str, str]]:
    """Send the task again for every job whose worker died; returns (kind, job id) of each."""
    svc = _service()
    found = [("audiobook", job_id) for job_id in svc.narrations.orphaned()]
    found += [("song", job_id) for job_id in svc.songs.orphaned()]
    found += [("audit", job_id) for job_id in svc.audits.orphaned()]
    for kind, job_id in found:
        log.warning("%s job %s lost its worker; sending it again", kind, job_id)
        app.send_task(f"voicekit.{kind}", args=[job_id])
    return found


def run_worker(broker: str, name: str | None = None) -> None:
    """Run one worker in this process until it is stopped: the service built before the first task,
    the sweep on a thread beside it."""
    from celery.exceptions import SecurityWarning

    app = celery_app(broker)  # a bad URL is refused before any model loads
    warnings.filterwarnings("ignore", category=SecurityWarning)  # said once, below, in our words
    if os.geteuid() == 0:
        log.warning("this worker runs as root: run workers as an unprivileged user")
    runners()
    stop = threading.Event()

    def sweeping() -> None:
        while not stop.wait(SWEEP_S):
            try:
                sweep(app)
            except Exception:  # a database or broker hiccup: the next sweep tries again
                log.exception("the sweep for lost jobs failed")

    threading.Thread(target=sweeping, name="voicekit-sweep", daemon=True).start()
    argv = ["worker", "--pool=solo", "--concurrency=1", "--loglevel=INFO", "--without-gossip", "--without-mingle"]
    if name:
        argv.append(f"--hostname={name}@%h")
    try:
        app.worker_main(argv)
    finally:
        stop.set()

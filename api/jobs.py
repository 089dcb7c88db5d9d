"""Runs audiobook, audit and song jobs: on threads in the server (the embedded default, which picks
up unfinished jobs at start), or on Celery workers when a broker is named (api.workers).

Either way one `JobRunner.run_one` does a job's work, so a job is checked, marked and gated the same
wherever it runs; `Dispatch` is what routes hand a new job to."""
from __future__ import annotations

import logging
import queue
import threading
from dataclasses import dataclass
from typing import Any, Callable

from api.deps import KeyCaller, Service
from voicekit.audiobook import JobCancelled
from voicekit.errors import VoicekitError
from voicekit.songjobs import SongCancelled

log = logging.getLogger("voicekit.api.jobs")


class JobRunner:
    """One thread that runs queued jobs in order; a job that fails is marked so by its store, and
    the thread goes on with the next. Jobs a stop interrupted are queued again at start."""

    def __init__(self, svc: Service, thread_name: str) -> None:
        self.svc = svc
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name=thread_name, daemon=True)

    def unfinished(self) -> list[str]:
        raise NotImplementedError

    def run_one(self, job_id: str) -> None:
        raise NotImplementedError

    def start(self) -> None:
        for job_id in self.unfinished():
            self._queue.put(job_id)
        self._thread.start()

    def enqueue(self, job_id: str) -> None:
        self._queue.put(job_id)

    def stop(self) -> None:
        """Stop taking jobs; the one running is dropped with the process and done again on restart."""
        self._queue.put(None)

    def run_guarded(self, job_id: str) -> None:
        """run_one, with a failure logged (its store has marked the job failed), not raised."""
        try:
            self.run_one(job_id)
        except VoicekitError as e:
            log.warning("%s job %s failed: %s", self._thread.name, job_id, e)
        except Exception:  # the job is marked failed; the runner goes on with the next one
            log.exception("%s job %s failed", self._thread.name, job_id)

    def _run(self) -> None:
        while (job_id := self._queue.get()) is not None:
            self.run_guarded(job_id)


class NarrationRunner(JobRunner):
    """Narrates queued audiobooks, each with the render slots' worth of chapters at once (finished
    chapters are kept across a restart)."""

    def __init__(self, svc: Service) -> None:
        super().__init__(svc, "voicekit-narration")

    def unfinished(self) -> list[str]:
        return self.svc.narrations.unfinished()

    def run_one(self, job_id: str) -> None:
        job = self.svc.narrations.job(job_id)
        if job.status not in ("queued", "running") or job.key_id is None:
            return  # finished, or a `voicekit audiobook` run's job (the CLI narrates its own)
        # each chapter re-checks the voice for the job's key: a key revoked mid-book stops the book
        caller = KeyCaller(self.svc.access, self.svc.access.key(job.key_id), live=True)
        try:
            self.svc.narrations.narrate(self.svc.studio, job_id, caller, workers=self.svc.settings.speech_slots)
        except JobCancelled:
            log.info("audiobook job %s cancelled", job_id)


class AuditRunner(JobRunner):
    """Audits queued batches of files (an audit reads; it never renders); an interrupted one runs
    again from the start."""

    def __init__(self, svc: Service) -> None:
        super().__init__(svc, "voicekit-audits")

    def unfinished(self) -> list[str]:
        return self.svc.audits.unfinished()

    def run_one(self, job_id: str) -> None:
        self.svc.audits.run(self.svc.studio, job_id)


class SongRunner(JobRunner):
    """Makes queued songs one at a time (a song's stages use both cores already); each stage's
    release checks the voice again for the job's key."""

    def __init__(self, svc: Service) -> None:
        super().__init__(svc, "voicekit-songs")

    def unfinished(self) -> list[str]:
        return self.svc.songs.unfinished()

    def run_one(self, job_id: str) -> None:
        job = self.svc.songs.job(job_id)
        if job.status not in ("queued", "running") or job.key_id is None:
            return
        caller = KeyCaller(self.svc.access, self.svc.access.key(job.key_id), live=True)
        try:
            self.svc.songs.run(self.svc.studio, job_id, caller)
        except SongCancelled:
            log.info("song job %s cancelled", job_id)


RUNNERS = {"audiobook": NarrationRunner, "audit": AuditRunner, "song": SongRunner}


@dataclass(frozen=True)
class Released:
    """What a speech request released, wherever it was rendered."""

    encoded: bytes
    mark_id: int
    provenance: dict[str, Any] | None


class Dispatch:
    """Where a new job goes. `parts`: how many runs may work on it at once (an audiobook's chapters:
    each further run claims chapters the others have not). `speak`: None when requests render in
    this process."""

    speak: Callable[..., Released] | None = None

    def submit(self, kind: str, job_id: str, parts: int = 1) -> None:
        raise NotImplementedError

    def start(self) -> None:
        pass

    def stop(self) -> None:
        pass


class ThreadDispatch(Dispatch):
    """One runner thread per kind of job, in this process."""

    def __init__(self, svc: Service) -> None:
        self.runners = {kind: runner(svc) for kind, runner in RUNNERS.items()}

    def submit(self, kind: str, job_id: str, parts: int = 1) -> None:
        self.runners[kind].enqueue(job_id)

    def start(self) -> None:
        for runner in self.runners.values():
            runner.start()

    def stop(self) -> None:
        for runner in self.runners.values():
            runner.stop()

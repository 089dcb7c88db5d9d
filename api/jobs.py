"""Runs audiobook and audit jobs in the background of the server, and picks up unfinished ones at start."""
from __future__ import annotations

import logging
import queue
import threading

from api.deps import KeyCaller, Service
from voicekit.audiobook import JobCancelled
from voicekit.errors import VoicekitError

log = logging.getLogger("voicekit.api.jobs")


class NarrationRunner:
    """One thread that narrates queued jobs in order, each with the render slots' worth of chapters at once."""

    def __init__(self, svc: Service) -> None:
        self.svc = svc
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="voicekit-narration", daemon=True)

    def start(self) -> None:
        """Queue the jobs a stop interrupted (their finished chapters are kept), then start the thread."""
        for job_id in self.svc.narrations.unfinished():
            self._queue.put(job_id)
        self._thread.start()

    def enqueue(self, job_id: str) -> None:
        self._queue.put(job_id)

    def stop(self) -> None:
        """Stop taking jobs; the chapter being rendered is dropped with the process and done again on restart."""
        self._queue.put(None)

    def _run(self) -> None:
        while (job_id := self._queue.get()) is not None:
            try:
                job = self.svc.narrations.job(job_id)
                if job.status not in ("queued", "running") or job.key_id is None:
                    continue  # finished, or a `voicekit audiobook` run's job (the CLI narrates its own)
                # each chapter re-checks the voice for the job's key: a key revoked mid-book stops the book
                caller = KeyCaller(self.svc.access, self.svc.access.key(job.key_id), live=True)
                self.svc.narrations.narrate(self.svc.studio, job_id, caller, workers=self.svc.settings.speech_slots)
            except JobCancelled:
                log.info("audiobook job %s cancelled", job_id)
            except VoicekitError as e:
                log.warning("audiobook job %s failed: %s", job_id, e)
            except Exception:  # the job is marked failed; the runner goes on with the next one
                log.exception("audiobook job %s failed", job_id)


class AuditRunner:
    """One thread that audits queued jobs in order (an audit reads; it never renders)."""

    def __init__(self, svc: Service) -> None:
        self.svc = svc
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="voicekit-audits", daemon=True)

    def start(self) -> None:
        """Queue the audits a stop interrupted (they run again from the start), then start the thread."""
        for job_id in self.svc.audits.unfinished():
            self._queue.put(job_id)
        self._thread.start()

    def enqueue(self, job_id: str) -> None:
        self._queue.put(job_id)

    def stop(self) -> None:
        self._queue.put(None)

    def _run(self) -> None:
        while (job_id := self._queue.get()) is not None:
            try:
                self.svc.audits.run(self.svc.studio, job_id)
            except Exception:  # the job is marked failed; the runner goes on with the next one
                log.exception("audit job %s failed", job_id)

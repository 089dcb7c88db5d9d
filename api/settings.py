"""The service's limits and where its data lives: explicit values (the environment is read only
by `voicekit serve`, for the data folder and key passphrase)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

MB = 1024 * 1024


@dataclass(frozen=True)
class ServiceSettings:
    """home/passphrase: as for Studio (None: VOICEKIT_HOME and VOICEKIT_PASSPHRASE).

    max_body_bytes: any request body (an EPUB upload is the largest we expect).
    max_upload_bytes: one uploaded audio file (consent, reference, file to detect).
    max_text_chars: one speech request's text; books have their own limits (voicekit.books).
    speech_slots: requests rendering at once (the machine's cores: heart renders on one core each);
    a request waits up to slot_wait_s for one, then gets 429.
    body_timeout_s: a client that takes longer than this to send its body gets 408.
    worker_speech_chars: with workers (VOICEKIT_BROKER_URL), a speech request this long or longer is
    rendered on one, and the API waits up to worker_wait_s for it (then 503); shorter ones render
    here, where a Redis round trip would cost more than it saves.
    """

    home: Path | None = None
    passphrase: bytes | None = None
    max_body_bytes: int = 64 * MB
    max_upload_bytes: int = 20 * MB
    max_text_chars: int = 20_000
    speech_slots: int = 2
    slot_wait_s: float = 30.0
    body_timeout_s: float = 60.0
    job_workers: int = 1
    worker_speech_chars: int = 1000
    worker_wait_s: float = 300.0

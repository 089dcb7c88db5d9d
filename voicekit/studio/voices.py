"""The engines behind the registered voices: loaded once, on first use, and shared between
requests; which of them may render for several threads at once is their own declaration."""
from __future__ import annotations

import re
import threading
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Callable

from consent.profiles import VoiceProfile
from detection.decoding import decode_bytes
from voicekit import engines
from voicekit.cloning.engine import ClonedVoice
from voicekit.engines.base import Engine
from voicekit.engines.coqui import CoquiEngine, CoquiModelFiles
from voicekit.errors import BadInput, EngineUnavailable

# A registered model voice's name (voices add): never "profile:...", which names enrolled people.
VOICE_NAME = re.compile(r"[a-z][a-z0-9_-]{1,39}")


class Voices:
    """threads: onnxruntime/torch threads per engine; device: where torch models (coqui) run."""

    def __init__(self, threads: int = 1, device: str = "cpu") -> None:
        self.threads, self.device = threads, device
        self._engines: dict[str, Engine] = {}
        self._lock = threading.Lock()
        self._render_lock = threading.Lock()

    def engine(self, name: str) -> Engine:
        """The named house engine, loaded once on first use."""
        with self._lock:
            if name not in self._engines:
                self._engines[name] = engines.create(name, threads=self.threads)
            return self._engines[name]

    def rendering(self, engine: Engine) -> AbstractContextManager:
        """Held while `engine` renders: engines that declare themselves thread-safe (heart: its
        ONNX session and vocoder keep no state between calls) render for several threads at once;
        the others take turns on one lock, because espeak-ng's phonemiser (behind Piper and coqui)
        is one process-wide state."""
        return nullcontext() if engine.capabilities.thread_safe else self._render_lock

    def for_profile(self, profile: VoiceProfile) -> Engine:
        """The engine of a verified record: a model voice's coqui model, a clone's base voice under
        its signed conversion, or a house engine."""
        if profile.kind == "model":
            return self._model(profile)
        if profile.kind == "clone":
            return ClonedVoice.from_fitted(profile.typed_details.voice, self.engine)
        return self.engine(profile.engine)

    def coqui_clone(self, profile: VoiceProfile, model: VoiceProfile,
                    references: Callable[[], list[bytes]]) -> Engine:
        """The enrolled person spoken by a cloning coqui model (a verified "model" record),
        conditioned on their sealed references, decrypted in memory and never written out."""
        if profile.kind != "clone":
            raise BadInput("clone_with speaks an enrolled profile (profile:ID); this voice is not one")
        if model.kind != "model":
            raise BadInput(f"{model.voice_id!r} is not a registered coqui model voice (voicekit voices add)")
        return self._model(model).cloned(profile.voice_id, lambda: [decode_bytes(d) for d in references()])

    def tried_model(self, name: str, folder: Path | str, licence: str, speaker: str | None,
                    language: str | None) -> CoquiEngine:
        """A coqui model folder loaded and made to speak one sentence, so a folder coqui cannot
        load, or a multi-speaker model without a valid speaker, is refused (EngineUnavailable)
        before anything is signed."""
        if not VOICE_NAME.fullmatch(name):
            raise BadInput(f"voice name {name!r}: use 2-40 lower-case letters, digits, '-' or '_', starting with a letter")
        if not licence.strip():
            raise BadInput("give the model's licence (what its weights and training data allow)")
        engine = CoquiEngine(CoquiModelFiles.find(folder), licence, speaker, language, self.device, self.threads)
        try:
            engine.synthesize("This is a test.")
        except (RuntimeError, ValueError, KeyError, AssertionError) as e:
            raise EngineUnavailable(f"the model in {engine.files.folder} could not speak: {e}") from e
        return engine

    def add_model(self, name: str, engine: CoquiEngine) -> None:
        with self._lock:
            self._engines[f"voice:{name}"] = engine

    def _model(self, profile: VoiceProfile) -> CoquiEngine:
        key = f"voice:{profile.voice_id}"
        with self._lock:
            if key not in self._engines:
                self._engines[key] = engines.open_model_voice(profile, device=self.device, threads=self.threads)
            return self._engines[key]  # type: ignore[return-value]


"""Synthesis engines behind one protocol, and the house voices they provide."""
from __future__ import annotations

import time

from consent.details import HouseDetails, ModelDetails
from consent.profiles import VoiceProfile
from voicekit.engines.base import Engine
from voicekit.engines.coqui import CoquiEngine, CoquiModelFiles
from voicekit.engines.heart import HeartEngine
from voicekit.engines.joe import JoeEngine
from voicekit.errors import EngineUnavailable

ENGINES = {"heart": HeartEngine, "joe": JoeEngine}
HOUSE_SCOPES = ("tts", "sing")
MODEL_SCOPES = ("tts",)  # a coqui model gives no phoneme durations, so it cannot sing (voicekit.singing)
HOUSE_LICENCE = "voicekit house voice: synthesis of any text permitted"


def create(name: str, threads: int = 1) -> Engine:
    if name not in ENGINES:
        raise EngineUnavailable(f"no synthesis engine {name!r} is installed (installed: {', '.join(ENGINES)})")
    return ENGINES[name](threads=threads)


def house_profiles(now: float | None = None) -> list[VoiceProfile]:
    """The records registered (and signed under the house licence) at first start."""
    now = time.time() if now is None else now
    return [
        VoiceProfile(
            voice_id="heart", kind="house", engine="heart", display_name="Heart (US English, female)",
            licence=HeartEngine.licence, scopes=HOUSE_SCOPES, created_at=now,
            details=HouseDetails(HOUSE_LICENCE).as_dict(),
        ),
        VoiceProfile(
            voice_id="joe", kind="house", engine="joe", display_name="Joe (US English, male)",
            licence=JoeEngine.licence, scopes=HOUSE_SCOPES, created_at=now,
            details=HouseDetails(HOUSE_LICENCE).as_dict(),
        ),
    ]


def model_voice_profile(name: str, files: CoquiModelFiles, licence: str, speaker: str | None,
                        language: str | None, now: float) -> VoiceProfile:
    """The record that makes a coqui-tts model folder a voice: which files (by SHA-256), which
    speaker and language, under which licence."""
    return VoiceProfile(
        voice_id=name, kind="model", engine="coqui", display_name=f"{name} (coqui-tts model)", licence=licence,
        scopes=MODEL_SCOPES, created_at=now,
        details=ModelDetails(str(files.folder), files.sha256, speaker, language).as_dict(),
    )


def open_model_voice(profile: VoiceProfile, device: str = "cpu", threads: int = 1) -> CoquiEngine:
    """The engine of a verified model-voice record; refuses model files that changed since it was signed."""
    model = profile.typed_details
    assert isinstance(model, ModelDetails)
    return CoquiEngine.open(model.folder, expected_sha256=model.sha256, licence=profile.licence,
                            speaker=model.speaker, language=model.language, device=device, threads=threads)

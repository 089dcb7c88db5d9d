"""The engine a cloned profile speaks with: its base voice, converted by the profile's fitted,
signed VoiceConversion."""
from __future__ import annotations

import hashlib
import json
from typing import Any

import numpy as np

from voicekit.cloning.conversion import VoiceConversion, convert_vocoder_frames
from voicekit.engines.heart import HeartEngine
from voicekit.errors import EngineUnavailable

CONVERTIBLE_BASES = ("heart",)


class ClonedVoice:
    """Engine protocol over a base engine that exposes vocoder frames (heart)."""

    name = "clone"

    def __init__(self, base: HeartEngine, conversion: VoiceConversion) -> None:
        self.base = base
        self.conversion = conversion

    @classmethod
    def from_profile_details(cls, details: dict[str, Any], engines: dict[str, Any]) -> "ClonedVoice":
        """details: a verified clone profile's details; engines: base engine name -> engine."""
        voice = details.get("voice")
        if not voice or voice.get("base") not in CONVERTIBLE_BASES:
            raise EngineUnavailable("this profile has no fitted voice; enroll the speaker again to fit one")
        return cls(engines[voice["base"]], VoiceConversion.from_dict(voice["conversion"]))

    @property
    def sample_rate(self) -> int:
        return self.base.sample_rate

    @property
    def model_version(self) -> str:
        digest = hashlib.sha256(json.dumps(self.conversion.as_dict(), sort_keys=True).encode()).hexdigest()[:12]
        return f"{self.base.model_version} + conversion {digest}"

    def synthesize(self, sentence: str) -> np.ndarray:
        frames = self.base.vocoder_frames(sentence)
        return self.base.render([convert_vocoder_frames(f, self.conversion) for f in frames])

"""What a voice record's `details` hold, by kind, as typed values. The record itself keeps them as
the plain mapping that was signed (so a signature never depends on a class's field order); these
are how code reads and writes them."""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from consent.errors import ProfileTampered


@dataclass(frozen=True)
class HouseDetails:
    """A house voice: the licence under which any text may be spoken."""

    house_licence: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class ModelDetails:
    """A registered coqui-tts model folder: where, its files' SHA-256, and which speaker and
    language of a multi-speaker or multilingual model."""

    folder: str
    sha256: str
    speaker: str | None = None
    language: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"coqui": asdict(self)}


@dataclass(frozen=True)
class FittedVoice:
    """How an enrolled person is spoken: the base house voice nearest them, and the conversion
    fitted at enrollment (voicekit.cloning.conversion field -> value) with its held-out report."""

    base: str
    conversion: dict[str, float]
    base_similarity: dict[str, float]
    fit: dict[str, Any]


@dataclass(frozen=True)
class CloneDetails:
    """An enrolled person: their speaker embedding (256 floats) and its model, the SHA-256 of
    every recording, the consent reading's challenge and measured checks, whether the references
    are kept sealed, and the fitted voice."""

    embedding: tuple[float, ...]
    embedding_model: str
    audio_sha256: dict[str, Any]
    consent: dict[str, Any]
    references_sealed: bool
    voice: FittedVoice | None

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["embedding"] = list(self.embedding)
        return out


Details = HouseDetails | ModelDetails | CloneDetails


def typed(kind: str, details: dict[str, Any]) -> Details:
    """The signed mapping of a record of `kind` as its typed value; raises ProfileTampered for a
    mapping that is not what such a record holds (it verified, so it was signed that way)."""
    try:
        if kind == "house":
            return HouseDetails(**details)
        if kind == "model":
            return ModelDetails(**details["coqui"])
        if kind == "clone":
            voice = details.get("voice")
            return CloneDetails(**{**details, "embedding": tuple(details["embedding"]),
                                   "voice": None if voice is None else FittedVoice(**voice)})
    except (TypeError, KeyError) as e:
        raise ProfileTampered(f"a {kind} record's details are malformed: {e}") from e
    raise ProfileTampered(f"unknown kind of voice record {kind!r}")

"""Is this audio ours, from which voice, under which record? One file in, one finding out."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from consent.keys import RegistryKeys
from consent.ledger import Ledger
from detection import provenance
from detection.decoding import decode_file
from detection.gate import RELEASE_P_VALUE
from detection.watermark.base import Watermarker
from detection.watermark.payload import PAYLOAD_BYTES


@dataclass(frozen=True)
class Finding:
    watermarked: bool
    p_value: float
    payload: str | None
    mark_id: int | None
    provenance: dict[str, Any] | None
    duration_s: float

    def as_dict(self) -> dict[str, Any]:
        return {
            "watermarked": self.watermarked,
            "p_value": self.p_value,
            "payload": self.payload,
            "mark_id": None if self.mark_id is None else f"{self.mark_id:08x}",
            "provenance": self.provenance,
            "duration_s": self.duration_s,
        }


def inspect_audio(
    samples: np.ndarray, sample_rate: int, watermarker: Watermarker, ledger: Ledger, keys: RegistryKeys
) -> Finding:
    """Blind detection, then the ledger record the payload names.

    p_value: the blind test's, or, when the payload names a ledger record, the stronger test for that
    mark multiplied by the number of marks in the ledger (a union bound over every mark we could have
    matched), whichever is smaller.
    """
    blind = watermarker.detect(samples, sample_rate)
    p_value, record = blind.p_value, None
    if blind.mark_id is not None:
        entry = ledger.find_mark(blind.mark_id)
        if entry is not None:
            n_marks = max(1, len(ledger.mark_ids()))
            targeted = watermarker.verify(samples, sample_rate, blind.mark_id)
            p_value = min(p_value, min(1.0, targeted.p_value * n_marks))
            record = entry.as_dict()
    watermarked = p_value <= RELEASE_P_VALUE
    payload = None
    if watermarked and blind.mark_id is not None:
        payload = blind.mark_id.to_bytes(PAYLOAD_BYTES, "big").hex()
    return Finding(
        watermarked=watermarked,
        p_value=p_value,
        payload=payload,
        mark_id=blind.mark_id if (watermarked and record is not None) else None,
        provenance=provenance.summary(record, keys) if (watermarked and record is not None) else None,
        duration_s=len(samples) / sample_rate if sample_rate else 0.0,
    )


def inspect_file(path: Path | str, watermarker: Watermarker, ledger: Ledger, keys: RegistryKeys) -> Finding:
    """Raises UnreadableAudio for a missing, empty or non-audio file."""
    samples, rate = decode_file(path)
    return inspect_audio(samples, rate, watermarker, ledger, keys)

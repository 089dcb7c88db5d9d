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
from detection.watermark import payload as payload_code
from detection.watermark.payload import PAYLOAD_BYTES


@dataclass(frozen=True)
class Finding:
    watermarked: bool
    p_value: float
    payload: str | None
    mark_id: int | None
    provenance: dict[str, Any] | None
    duration_s: float
    spans: tuple[tuple[float, float], ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {
            "watermarked": self.watermarked,
            "p_value": self.p_value,
            "payload": self.payload,
            "mark_id": None if self.mark_id is None else f"{self.mark_id:08x}",
            "provenance": self.provenance,
            "duration_s": self.duration_s,
            "spans": [list(span) for span in self.spans],
        }


def inspect_audio(
    samples: np.ndarray, sample_rate: int, watermarker: Watermarker, ledger: Ledger, keys: RegistryKeys
) -> Finding:
    """Two tests, and the smaller p-value times two: blind detection (any mark under our keys), and
    a matched test of the marks the blind payload bits could name (a list decoder's best
    LIST_SIZE, counted as LIST_PLAN tests; stronger, and it survives edits that break the payload).
    Neither reads the ledger: its size changes neither the cost nor the p-value.

    The record named is looked up in the ledger's index (the decoded payload's, else the matched
    mark's) and its signature checked; nothing is scanned.
    """
    blind = watermarker.detect(samples, sample_rate)
    listed = payload_code.candidates(np.array(blind.soft_bits)) if blind.soft_bits else []
    if blind.mark_id is not None and blind.mark_id not in listed:
        listed.insert(0, blind.mark_id)
    matched = watermarker.match(samples, sample_rate, listed, plan=payload_code.LIST_PLAN) if listed else None
    p_value = min(1.0, 2 * min(blind.p_value, matched.p_value if matched else 1.0))
    watermarked = p_value <= RELEASE_P_VALUE
    entry = None
    if watermarked:
        named = [blind.mark_id]
        if matched is not None and matched.p_value <= RELEASE_P_VALUE / 2:
            named.append(matched.mark_id)
        entry = next((e for e in (ledger.find_mark(m) for m in named if m is not None) if e is not None), None)
    decoded = blind.mark_id if blind.mark_id is not None else (matched.payload_id if matched else None)
    best = matched if (matched is not None and matched.p_value < blind.p_value) else blind
    return Finding(
        watermarked=watermarked,
        p_value=p_value,
        payload=decoded.to_bytes(PAYLOAD_BYTES, "big").hex() if (watermarked and decoded is not None) else None,
        mark_id=entry.body["mark_id"] if entry is not None else None,
        provenance=provenance.summary(entry.as_dict(), keys) if entry is not None else None,
        duration_s=len(samples) / sample_rate if sample_rate else 0.0,
        spans=best.spans if watermarked else (),
    )


def inspect_file(path: Path | str, watermarker: Watermarker, ledger: Ledger, keys: RegistryKeys) -> Finding:
    """Raises UnreadableAudio for a missing, empty or non-audio file."""
    samples, rate = decode_file(path)
    return inspect_audio(samples, rate, watermarker, ledger, keys)

"""The release gate: no audio leaves unless its final encoded bytes carry the mark we embedded.

The gate decodes exactly the bytes that will be released (so a codec that destroyed the mark is
caught), tests for the expected mark, and checks that the payload decodes blind to the same id.
It fails closed: any error while checking is a refusal.
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from detection.decoding import decode_bytes
from detection.errors import GateRefused
from detection.watermark.base import Watermarker

RELEASE_P_VALUE = 1e-6


@dataclass(frozen=True)
class GateVerdict:
    mark_id: int
    p_value: float
    z_score: float
    seconds: float
    watermark: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class ReleaseGate:
    def __init__(self, watermarker: Watermarker, threshold: float = RELEASE_P_VALUE) -> None:
        self.watermarker = watermarker
        self.threshold = threshold

    def check(self, encoded: bytes, expected_mark: int) -> GateVerdict:
        """The verdict for releasable bytes; raises GateRefused otherwise."""
        return self.checked(encoded, expected_mark)[0]

    def checked(self, encoded: bytes, expected_mark: int) -> tuple[GateVerdict, np.ndarray, int]:
        """As `check`, with the bytes as decoded for the check (float32 mono, rate in Hz): what
        was released, so the caller need not decode it again."""
        started = time.perf_counter()
        try:
            samples, rate = decode_bytes(encoded)
            verdict = self.watermarker.verify(samples, rate, expected_mark)
        except Exception as e:  # fail closed: a check that cannot run is a refusal
            raise GateRefused(f"the release check could not run: {e}") from e
        if verdict.p_value > self.threshold:
            raise GateRefused(
                f"mark not found in the final audio (p={verdict.p_value:.3g} > {self.threshold:g})"
            )
        if verdict.payload_id != expected_mark:
            found = "nothing decodable" if verdict.payload_id is None else f"{verdict.payload_id:08x}"
            raise GateRefused(f"payload decoded as {found}, expected {expected_mark:08x}")
        return GateVerdict(
            mark_id=expected_mark,
            p_value=verdict.p_value,
            z_score=verdict.z_score,
            seconds=time.perf_counter() - started,
            watermark=self.watermarker.name,
        ), samples, rate

"""Is this audio ours, from which voice, under which record? One file in, one finding out."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from consent.keys import RegistryKeys
from consent.ledger import Ledger, LedgerEntry
from detection import provenance
from detection.decoding import decode_file
from detection.errors import WindowTooWide
from detection.gate import RELEASE_P_VALUE
from detection.watermark import payload as payload_code
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
    spans: tuple[tuple[float, float], ...] = ()
    time_scale: float = 1.0  # how much faster than it was made the audio plays, where a mark was found
    pitch_cents: float = 0.0  # how far its pitch was shifted

    def as_dict(self) -> dict[str, Any]:
        return {
            "watermarked": self.watermarked,
            "p_value": self.p_value,
            "payload": self.payload,
            "mark_id": None if self.mark_id is None else f"{self.mark_id:08x}",
            "provenance": self.provenance,
            "duration_s": self.duration_s,
            "spans": [list(span) for span in self.spans],
            "time_scale": round(self.time_scale, 3),
            "pitch_cents": round(self.pitch_cents),
        }


MAX_WINDOW_OUTPUTS = 100_000  # the most marks one detection matches from an auditor's time window


def window_marks(ledger: Ledger, since: float, until: float) -> list[int]:
    """The marks of every output made in a time window (Unix seconds), from the ledger's index;
    raises WindowTooWide beyond MAX_WINDOW_OUTPUTS."""
    issued = ledger.marks_between(since, until, limit=MAX_WINDOW_OUTPUTS + 1)
    if len(issued) > MAX_WINDOW_OUTPUTS:
        raise WindowTooWide(f"the window holds more than {MAX_WINDOW_OUTPUTS} outputs; give a narrower one")
    return issued


def inspect_audio(
    samples: np.ndarray, sample_rate: int, watermarker: Watermarker, ledger: Ledger, keys: RegistryKeys,
    issued: Sequence[int] = (),
) -> Finding:
    """Up to three tests, and the smallest p-value times their number:
    - blind detection of the sync symbols (any mark under our keys);
    - a matched test of the marks the blind payload bits could name (the list decoder's best
      LIST_SIZE, counted as every possible codeword, since the list came from this audio);
    - with `issued` (marks the caller picked without looking at the audio: an auditor's time
      window, `window_marks`; the latest outputs for an enrollment): a matched test of them. A
      fixed set, so only its own size is counted: the strongest test, and it survives edits that
      break the payload.
    None reads the whole ledger: without `issued` neither the cost nor the p-value depends on its
    size. The record named is looked up in the ledger's index, its signature checked and its place
    in the chain (Ledger.chain_problems).
    """
    blind = watermarker.detect(samples, sample_rate)
    tests = [blind]
    listed = payload_code.candidates(np.array(blind.soft_bits)) if blind.soft_bits else []
    if blind.mark_id is not None and blind.mark_id not in listed:
        listed.insert(0, blind.mark_id)
    if listed:
        tests.append(watermarker.match(samples, sample_rate, listed, plan=payload_code.LIST_PLAN))
    if issued:
        tests.append(watermarker.match(samples, sample_rate, list(issued)))
    best = min(tests, key=lambda v: v.p_value)
    p_value = min(1.0, len(tests) * best.p_value)
    watermarked = p_value <= RELEASE_P_VALUE
    entry = None
    if watermarked:
        named = [blind.mark_id] + [t.mark_id for t in tests[1:] if len(tests) * t.p_value <= RELEASE_P_VALUE]
        entry = next((e for e in (ledger.find_mark(m) for m in named if m is not None) if e is not None), None)
    decoded = blind.mark_id if blind.mark_id is not None else next(
        (t.payload_id for t in tests[1:] if t.payload_id is not None), None)
    return Finding(
        watermarked=watermarked,
        p_value=p_value,
        payload=decoded.to_bytes(PAYLOAD_BYTES, "big").hex() if (watermarked and decoded is not None) else None,
        mark_id=entry.body["mark_id"] if entry is not None else None,
        provenance=_attributed(entry, ledger, keys) if entry is not None else None,
        duration_s=len(samples) / sample_rate if sample_rate else 0.0,
        spans=best.spans if watermarked else (),
        time_scale=float(best.scale) if watermarked else 1.0,
        pitch_cents=float(best.pitch_cents) if watermarked else 0.0,
    )


def _attributed(entry: LedgerEntry, ledger: Ledger, keys: RegistryKeys) -> dict[str, Any]:
    """The record's summary, and what is wrong with the ledger chain where it sits (O(log n))."""
    problems = ledger.chain_problems(entry)
    return provenance.summary(entry.as_dict(), keys) | {"ledger_chain": {"intact": not problems, "problems": problems}}


def inspect_file(path: Path | str, watermarker: Watermarker, ledger: Ledger, keys: RegistryKeys,
                 issued: Sequence[int] = ()) -> Finding:
    """Raises UnreadableAudio for a missing, empty or non-audio file."""
    samples, rate = decode_file(path)
    return inspect_audio(samples, rate, watermarker, ledger, keys, issued)

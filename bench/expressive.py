"""Expressive speech, measured on the released audio: requested pitch shift against the measured
median f0 change, requested rate against the measured duration, and requested breaks against the
measured silence, for each house voice.

Writes bench/results/expressive.json and prints a table. Not a test: nothing here asserts a figure.
Usage: python bench/expressive.py
"""
from __future__ import annotations

import json
import os
import platform
import tempfile
from datetime import datetime, timezone
from pathlib import Path

import one_core

one_core.single_threaded()
one_core.pin_to_one_core()

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parent
TEXTS = (
    "The quick brown fox jumps over the lazy dog near the riverbank.",
    "Every morning the baker opened his shop before the first bus came down the hill.",
)
PITCHES_ST = (-6.0, -3.0, 3.0, 6.0)
RATES = (0.6, 0.8, 1.25, 1.6)
BREAKS_S = (0.25, 0.5, 1.0, 2.0)


def median_st(result) -> float:
    from voicekit.audio import resample
    from voicekit.cloning.fit import median_log_f0

    return 12 * median_log_f0(resample(result.audio, result.sample_rate, 16000))[0] / np.log(2)


def longest_silence_s(result, frame_s: float = 0.01, floor_db: float = -50.0) -> float:
    from voicekit.audio import frame_levels_db

    quiet = np.concatenate([[False], frame_levels_db(result.audio, result.sample_rate, frame_s) < floor_db, [False]])
    edges = np.flatnonzero(np.diff(quiet.astype(int)))  # starts and ends of quiet runs, alternating
    return float(np.max(edges[1::2] - edges[::2], initial=0)) * frame_s


def main() -> None:
    from voicekit import Studio

    studio = Studio(home=Path(tempfile.mkdtemp(prefix="voicekit-bench-")))
    rows = {"pitch": [], "rate": [], "break": []}
    for voice in ("heart", "joe"):
        neutral = {t: studio.speak(t, voice=voice) for t in TEXTS}
        for st in PITCHES_ST:
            shifts = [median_st(studio.speak(t, voice=voice, pitch=st)) - median_st(neutral[t]) for t in TEXTS]
            rows["pitch"].append({"voice": voice, "requested_st": st, "measured_st": round(float(np.mean(shifts)), 2)})
        for rate in RATES:
            ratios = [len(neutral[t].audio) / len(studio.speak(t, voice=voice, rate=rate).audio) for t in TEXTS]
            rows["rate"].append({"voice": voice, "requested": rate, "measured": round(float(np.mean(ratios)), 3)})
        for seconds in BREAKS_S:
            result = studio.speak(f'<speak>Before the pause.<break time="{seconds}s"/>After the pause.</speak>',
                                  voice=voice, ssml=True)
            rows["break"].append({"voice": voice, "requested_s": seconds,
                                  "measured_s": round(longest_silence_s(result), 3)})
    for kind, items in rows.items():
        for row in items:
            print(kind, json.dumps(row))
    summary = {
        "pitch_mean_abs_error_st": round(float(np.mean([abs(r["measured_st"] - r["requested_st"])
                                                        for r in rows["pitch"]])), 2),
        "rate_mean_abs_error": round(float(np.mean([abs(r["measured"] - r["requested"]) for r in rows["rate"]])), 3),
        "break_mean_abs_error_s": round(float(np.mean([abs(r["measured_s"] - r["requested_s"])
                                                       for r in rows["break"]])), 3),
    }
    result = {"date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
              "machine": f"{platform.machine()}, {os.cpu_count()} cores, one used", "summary": summary, **rows}
    (ROOT / "results" / "expressive.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(summary))


if __name__ == "__main__":
    main()

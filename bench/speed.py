"""Speed of the bare engines and of the whole guarded path, per house voice, on one CPU core.

Writes bench/results/speed.json and prints a table. Not a test: nothing here asserts a timing.
Usage: python bench/speed.py [--repeats N]
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import one_core

one_core.single_threaded()
one_core.pin_to_one_core()

TEXT = (
    "The old lighthouse keeper climbed the spiral stairs every evening at dusk. "
    "He trimmed the wick, polished the great lens, and watched the ships pass safely by. "
    "In forty years, not one vessel was lost on the rocks below his tower. "
    "When he retired, the town gathered on the quay to thank him, and he smiled without a word."
)
STAGES = ("consent", "synthesis", "watermark", "loudness", "encode", "gate", "passive", "signing", "c2pa")


def measure(studio, voice: str, repeats: int) -> dict:
    from voicekit.text.chunking import sentences

    engine = studio.engine(studio.registry.check(voice).engine)
    studio.speak("Warm up.", voice=voice)  # loads the model; not timed
    chunks = sentences(TEXT)
    bare_audio = bare_time = 0.0
    for _ in range(repeats):
        t = time.perf_counter()
        samples = sum(len(engine.synthesize(c)) for c in chunks)
        bare_time += time.perf_counter() - t
        bare_audio += samples / engine.sample_rate
    guarded_audio = guarded_time = 0.0
    stages = dict.fromkeys(STAGES, 0.0)
    for _ in range(repeats):
        t = time.perf_counter()
        result = studio.speak(TEXT, voice=voice)
        guarded_time += time.perf_counter() - t
        guarded_audio += len(result.audio) / result.sample_rate
        for stage in STAGES:
            stages[stage] += result.timings.get(stage, 0.0)
    total = sum(stages.values())
    return {
        "voice": voice,
        "audio_s_per_run": round(guarded_audio / repeats, 2),
        "bare_engine_x_realtime": round(bare_audio / bare_time, 1),
        "guarded_path_x_realtime": round(guarded_audio / guarded_time, 1),
        "guarded_share_of_bare": round((guarded_audio / guarded_time) / (bare_audio / bare_time), 3),
        "share": {stage: round(stages[stage] / total, 3) for stage in STAGES},
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    from voicekit import Studio

    with tempfile.TemporaryDirectory() as home:
        studio = Studio(home=home, threads=1)
        rows = [measure(studio, voice, args.repeats) for voice in ("heart", "joe")]
    result = {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()} {os.cpu_count()} cores, pinned to one; Python {platform.python_version()}",
        "repeats": args.repeats,
        "voices": rows,
    }
    out = Path(__file__).resolve().parent / "results" / "speed.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"{'voice':<7} {'engine x RT':>11} {'guarded x RT':>12}   " + "  ".join(f"{s:>9}" for s in STAGES))
    for r in rows:
        print(f"{r['voice']:<7} {r['bare_engine_x_realtime']:>11} {r['guarded_path_x_realtime']:>12}   "
              + "  ".join(f"{100 * r['share'][s]:>8.1f}%" for s in STAGES))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()

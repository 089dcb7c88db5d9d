"""Expressive speech, measured on the released audio, for each house voice: requested pitch shift
against the measured median f0 change, requested rate against the measured duration, requested
breaks against the measured silence; what each speaking style does (pitch level and spread,
duration, loudness, voicing, word error rate by pocketsphinx); word timings against a forced
alignment and against the silence around breaks; and the first-chunk latency of streaming a
20-word sentence.

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
STYLE_TEXTS = TEXTS + (
    "She said the garden would look better after a week of warm spring rain.",
    "Please remember to lock the back door when you leave the office tonight.",
)
STREAM_TEXT = ("The quick brown fox jumped over the lazy dog while seven curious children watched "
               "from the old wooden bridge nearby.")  # 20 words
STREAM_RUNS = 15
TIMING_TEXT = ('<speak>Seven children <break time="600ms"/> watched the bridge <break time="600ms"/> '
               'while the river <break time="600ms"/> carried leaves <break time="600ms"/> away.</speak>')


def pitch_and_spread_st(result) -> tuple[float, float]:
    from voicekit.audio import resample
    from voicekit.cloning.fit import median_log_f0

    median, spread = median_log_f0(resample(result.audio, result.sample_rate, 16000))
    return 12 * median / np.log(2), 12 * spread / np.log(2)


def voiced_share(result) -> float:
    """Share of the loud 10 ms frames that WORLD finds voiced."""
    import pyworld
    from voicekit.audio import frame_levels_db, resample

    x = resample(result.audio, result.sample_rate, 16000).astype(np.float64)
    f0, _ = pyworld.dio(x, 16000, frame_period=10.0)
    loud = frame_levels_db(x, 16000, 0.01) > -40
    n = min(len(loud), len(f0))
    return float(np.mean(f0[:n][loud[:n]] > 40)) if loud[:n].any() else 0.0


def speech_level_db(result) -> float:
    from voicekit.audio import frame_levels_db

    levels = frame_levels_db(result.audio, result.sample_rate, 0.01)
    return float(np.mean(levels[levels > np.max(levels) - 30]))


def measure_styles(studio, checker) -> list[dict]:
    from voicekit.cloning.fit import word_errors
    from voicekit.audio import resample
    from voicekit.styles import STYLES

    rows = []
    for voice in ("heart", "joe"):
        neutral = [studio.speak(t, voice=voice) for t in STYLE_TEXTS]
        base = [pitch_and_spread_st(r) for r in neutral]
        for name in STYLES:
            results = [studio.speak(t, voice=voice, style=name) for t in STYLE_TEXTS]
            errors = [word_errors(t, checker.transcribe(resample(r.audio, r.sample_rate, 16000)))
                      for t, r in zip(STYLE_TEXTS, results)]
            voiced = float(np.mean([voiced_share(r) for r in results]))
            row = {"voice": voice, "style": name,
                   "duration_ratio": round(float(np.mean([len(r.audio) / len(n.audio)
                                                          for r, n in zip(results, neutral)])), 3),
                   "level_change_db": round(float(np.mean([speech_level_db(r) - speech_level_db(n)
                                                           for r, n in zip(results, neutral)])), 2),
                   "voiced_share": round(voiced, 3),
                   "wer": round(sum(e for e, _ in errors) / sum(n for _, n in errors), 3)}
            if voiced > 0.3:
                measured = [pitch_and_spread_st(r) for r in results]
                row["pitch_change_st"] = round(float(np.mean([m[0] - b[0] for m, b in zip(measured, base)])), 2)
                row["spread_ratio"] = round(float(np.mean([m[1] / b[1] for m, b in zip(measured, base)])), 2)
            rows.append(row)
            print("style", json.dumps(row))
    return rows


def measure_timings(studio) -> list[dict]:
    """Word starts and ends as reported, against (a) pocketsphinx's forced alignment of the released
    audio, and (b) the edges of the silences the breaks leave (true boundaries, no model involved)."""
    from voicekit.timing import ForcedAligner

    aligner, rows = ForcedAligner(), []
    for voice in ("heart", "joe"):
        signed = []
        for text in STYLE_TEXTS:
            result = studio.speak(text, voice=voice, word_timings=True)
            aligned = aligner.align(result.audio, result.sample_rate, text)
            signed += [a.start - b.start for a, b in zip(result.words, aligned)]
        result = studio.speak(TIMING_TEXT, voice=voice, ssml=True, word_timings=True)
        edges = [(start * 0.01, end * 0.01) for start, end in quiet_runs(result, 0.4)]
        reported = [(a.end, b.start) for a, b in zip(result.words, result.words[1:]) if b.start - a.end > 0.4]
        edge_errors = [abs(r - t) for pair_r, pair_t in zip(reported, edges) for r, t in zip(pair_r, pair_t)]
        diffs = np.abs(signed)
        row = {"voice": voice, "words_compared": len(diffs),
               "vs_forced_alignment_mean_signed_s": round(float(np.mean(signed)), 3),
               "vs_forced_alignment_median_s": round(float(np.median(diffs)), 3),
               "vs_forced_alignment_p95_s": round(float(np.percentile(diffs, 95)), 3),
               "pause_edges_compared": len(edge_errors),
               "vs_pause_edges_mean_s": round(float(np.mean(edge_errors)), 3) if edge_errors else None,
               "vs_pause_edges_max_s": round(float(np.max(edge_errors)), 3) if edge_errors else None}
        rows.append(row)
        print("timing", json.dumps(row))
    return rows


def quiet_runs(result, min_s: float, frame_s: float = 0.01, floor_db: float = -50.0) -> list[tuple[int, int]]:
    """(first, end) frames of the silences of at least min_s inside the audio (not at its edges)."""
    from voicekit.audio import frame_levels_db

    quiet = frame_levels_db(result.audio, result.sample_rate, frame_s) < floor_db
    edges = np.flatnonzero(np.diff(np.concatenate([[False], quiet, [False]]).astype(int)))
    return [(int(a), int(b)) for a, b in zip(edges[::2], edges[1::2])
            if b - a >= min_s / frame_s and a > 0 and b < len(quiet)]


def measure_stream(studio) -> list[dict]:
    import time

    rows = []
    for voice in ("heart", "joe"):
        list(studio.stream("Warm up.", voice=voice))
        firsts = []
        for _ in range(STREAM_RUNS):
            started = time.perf_counter()
            stream = iter(studio.stream(STREAM_TEXT, voice=voice))
            next(stream)
            firsts.append(time.perf_counter() - started)
            stream.close()
        row = {"voice": voice, "words": len(STREAM_TEXT.split()), "runs": STREAM_RUNS,
               "first_chunk_median_s": round(float(np.median(firsts)), 3),
               "first_chunk_max_s": round(float(np.max(firsts)), 3)}
        rows.append(row)
        print("stream", json.dumps(row))
    return rows


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
    from consent.statement import StatementChecker

    rows["styles"] = measure_styles(studio, StatementChecker())
    rows["timings"] = measure_timings(studio)
    rows["stream"] = measure_stream(studio)
    summary = {
        "pitch_mean_abs_error_st": round(float(np.mean([abs(r["measured_st"] - r["requested_st"])
                                                        for r in rows["pitch"]])), 2),
        "rate_mean_abs_error": round(float(np.mean([abs(r["measured"] - r["requested"]) for r in rows["rate"]])), 3),
        "break_mean_abs_error_s": round(float(np.mean([abs(r["measured_s"] - r["requested_s"])
                                                       for r in rows["break"]])), 3),
        "timing_vs_pause_edges_max_s": max(r["vs_pause_edges_max_s"] or 0 for r in rows["timings"]),
        "stream_first_chunk_median_s": {r["voice"]: r["first_chunk_median_s"] for r in rows["stream"]},
        "style_wer": {f'{r["voice"]}/{r["style"]}': r["wer"] for r in rows["styles"]},
    }
    result = {"date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
              "machine": f"{platform.machine()}, {os.cpu_count()} cores, one used", "summary": summary, **rows}
    (ROOT / "results" / "expressive.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(summary))


if __name__ == "__main__":
    main()

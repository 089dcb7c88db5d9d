"""Folder audits at scale: throughput and verdicts against the truth, with 10^6 outputs in the ledger.

A home's ledger is grown to --ledger outputs (bench/scale.py's `grow`: signed, chained, indexed),
then a mixed folder is audited: our outputs (heart and joe, WAV and MP3), our outputs through every
edit of detection/edits (one output per edit), unmarked synthetic speech (the engines rendered
directly, espeak-ng, flite), human speech (Debian's packages; `bash bench/setup.sh`) and unreadable
files (text, a truncated WAV). Reported: the verdicts against the truth (a confusion table), the
passive detector's flags per class, and throughput in hours of audio per minute: one process
(`Studio.audit`) and two `voicekit audit` processes on halves of the folder (2 cores).
Writes bench/results/audit.json and prints the tables. Not a test: nothing is asserted.
Usage: python bench/audit.py [--ledger 1000000]
"""
from __future__ import annotations

import argparse
import glob
import json
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

import one_core

one_core.single_threaded()

import numpy as np  # noqa: E402
import soundfile as sf  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
TEXTS = [
    "The committee voted to extend the deadline until the end of the month, and nobody objected.",
    "Rain is expected across the northern regions, clearing by the afternoon with a light breeze.",
    "She opened the letter slowly, unsure whether it held good news or bad, and read it twice.",
    "Turn left at the second traffic light, then continue straight for about half a mile or so.",
]
HUMAN_GLOBS = ("/usr/share/pocketsphinx/test/data/librivox/*.wav", "/usr/share/asterisk/sounds/fr_CA_f_June/*.wav",
               "/usr/share/asterisk/sounds/en_US_f_Allison/demo-*.wav")
VERDICTS = ("ours", "marked-unattributed", "record-invalid", "no-mark", "unreadable")


def build_folder(studio, folder: Path) -> dict[str, str]:
    """File name -> truth class."""
    from detection.edits import ALL_EDITS
    from train_passive import render

    truth: dict[str, str] = {}
    for k, text in enumerate(TEXTS * 3):
        voice, fmt = ("heart", "joe")[k % 2], ("wav", "mp3")[(k // 2) % 2]
        result = studio.speak(text, voice=voice, format=fmt)
        name = f"ours-{k:02d}-{voice}.{fmt}"
        (folder / name).write_bytes(result.encoded)
        truth[name] = "ours"
    for k, edit in enumerate(ALL_EDITS):
        if edit.name == "identity":
            continue
        result = studio.speak(TEXTS[k % len(TEXTS)] + " " + TEXTS[(k + 1) % len(TEXTS)], voice=("heart", "joe")[k % 2])
        samples, rate = sf.read(io_bytes(result.encoded), dtype="float32")
        edited, rate = edit.apply(samples, rate, np.random.default_rng(k))
        sf.write(folder / f"edited-{edit.name}.wav", edited, rate)
        truth[f"edited-{edit.name}.wav"] = "ours, edited"
    for k, voice in enumerate(["heart", "joe", "espeak:en-us", "espeak:en-gb", "flite:slt", "flite:rms"]):
        samples, rate = render(voice, TEXTS[k % len(TEXTS)])
        sf.write(folder / f"synthetic-{voice.replace(':', '-')}.wav", samples, rate)
        truth[f"synthetic-{voice.replace(':', '-')}.wav"] = "unmarked synthetic"
    humans = sorted(f for pattern in HUMAN_GLOBS for f in glob.glob(pattern))[:12]
    if not humans:
        sys.exit("no human speech found: run `bash bench/setup.sh` first")
    for f in humans:
        name = "human-" + Path(f).name
        shutil.copy(f, folder / name)
        truth[name] = "human"
    (folder / "notes.txt").write_text("not audio")
    (folder / "truncated.wav").write_bytes((folder / "ours-00-heart.wav").read_bytes()[:30])
    truth["notes.txt"] = truth["truncated.wav"] = "unreadable"
    return truth


def io_bytes(data: bytes):
    import io

    return io.BytesIO(data)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--ledger", type=int, default=1_000_000)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT / "bench"))
    import importlib.util

    spec = importlib.util.spec_from_file_location("bench_scale", ROOT / "bench" / "scale.py")
    scale = importlib.util.module_from_spec(spec)
    sys.modules["bench_scale"] = scale
    spec.loader.exec_module(scale)
    from voicekit import Studio

    started = time.time()
    with tempfile.TemporaryDirectory() as tmp:
        home, folder = Path(tmp) / "home", Path(tmp) / "folder"
        folder.mkdir()
        studio = Studio(home=home)
        template = studio.speak(TEXTS[0]).provenance["body"]
        t = time.time()
        scale.grow(studio, template, args.ledger, np.random.default_rng(0))
        grow_s = time.time() - t
        truth = build_folder(studio, folder)
        audio_s = sum(sf.info(folder / n).duration for n, c in truth.items() if c != "unreadable")

        t = time.perf_counter()
        document = studio.audit([folder])
        one_process_s = time.perf_counter() - t
        names = sorted(truth)
        halves = [names[0::2], names[1::2]]
        t = time.perf_counter()
        runs = [subprocess.Popen([sys.executable, "-m", "voicekit.cli", "--home", str(home), "audit", "--json",
                                  *[str(folder / n) for n in half]], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
                for half in halves]
        outputs = [json.loads(r.communicate()[0]) for r in runs]
        two_process_s = time.perf_counter() - t

    rows = {Path(r["path"]).name: r for r in document["report"]["files"]}
    classes = sorted(set(truth.values()), key=list(truth.values()).index)
    confusion = {c: dict(Counter(rows[n]["verdict"] for n in truth if truth[n] == c)) for c in classes}
    passive = {c: _share([rows[n]["passive"]["synthetic"] for n in truth if truth[n] == c and "passive" in rows[n]])
               for c in classes}
    # Content Credentials: a manifest that validates against this installation's root and names the
    # same ledger entry as the mark (our WAV and MP3 outputs); none survives an edit that rewrites the file.
    c2pa = {c: _share([rows[n]["c2pa"]["present"] and rows[n]["c2pa"]["state"] == "Trusted"
                       and rows[n]["c2pa"].get("matches_mark", False)
                       for n in truth if truth[n] == c and "c2pa" in rows[n]]) for c in classes}
    attributed = _share([rows[n].get("mark_id") is not None and rows[n]["verdict"] == "ours"
                         for n in truth if truth[n] == "ours"])
    edited = {n.removeprefix("edited-").removesuffix(".wav"): rows[n]["verdict"] for n in truth if truth[n] == "ours, edited"}
    same = all(r["verdict"] == rows[Path(r["path"]).name]["verdict"] for o in outputs for r in o["report"]["files"])
    result = {
        "date": datetime.now(timezone.utc).date().isoformat(),
        "machine": platform.platform(),
        "ledger_outputs": args.ledger,
        "ledger_grow_s": round(grow_s),
        "files": len(truth),
        "audio_minutes": round(audio_s / 60, 2),
        "one_process": {"seconds": round(one_process_s, 1),
                        "hours_of_audio_per_minute": round(audio_s / 3600 / (one_process_s / 60), 2)},
        "two_processes": {"seconds": round(two_process_s, 1),
                          "hours_of_audio_per_minute": round(audio_s / 3600 / (two_process_s / 60), 2),
                          "same_verdicts": same},
        "confusion": confusion,
        "edited_verdicts": edited,
        "ours_attributed": attributed,
        "passive_flagged": passive,
        "c2pa_trusted_and_matching": c2pa,
        "seconds": round(time.time() - started),
    }
    out = ROOT / "bench" / "results" / "audit.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"ledger {args.ledger:,} outputs; {len(truth)} files, {result['audio_minutes']} min of audio")
    print(f"one process: {one_process_s:.1f} s = {result['one_process']['hours_of_audio_per_minute']} h/min; "
          f"two processes: {two_process_s:.1f} s = {result['two_processes']['hours_of_audio_per_minute']} h/min")
    print(f"{'truth':<22}" + "".join(f"{v:>21}" for v in VERDICTS) + f"{'passive flags':>15}{'C2PA valid':>12}")
    for c in classes:
        print(f"{c:<22}" + "".join(f"{confusion[c].get(v, 0):>21}" for v in VERDICTS)
              + f"{passive[c]!s:>15}{c2pa[c]!s:>12}")
    print("edited outputs:", ", ".join(f"{k} {v}" for k, v in edited.items()))


def _share(flags: list) -> float | None:
    flags = [f for f in flags if f is not None]
    return round(float(np.mean(flags)), 3) if flags else None


if __name__ == "__main__":
    main()

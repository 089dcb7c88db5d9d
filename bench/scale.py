"""Records at scale: what detect, say, mark reservation, appends and `ledger verify` cost with 10^3,
10^5 and 10^6 output entries in the ledger.

One home grows through the sizes. Outputs are seeded the way the studio writes them (signed,
chained, indexed, their marks reserved) with bodies copied from a real output, voices varied. At
each size:
- `voicekit detect` as a user runs it (a fresh process; wall time and peak RSS) on a marked WAV,
  the same file as MP3 at 32 kbps, and a human recording; and in-process (median of 3);
- `voicekit say` in a fresh process, and Studio.speak in-process (median of 3);
- reserving 2,000 marks and appending 300 entries (each its own fsynced transaction);
- `ledger verify` from a checkpoint 1,000 entries back, and in full.
Targets (issue 14): detect and say within 1.2x of their 10^3 figures at 10^6, memory flat.
Writes bench/results/scale.json and prints a table. Not a test: nothing is asserted.
Usage: python bench/scale.py [--sizes 1000 100000 1000000]
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import one_core

one_core.single_threaded()  # also puts the checkout first on sys.path, before bench/consent.py

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
HUMAN = ROOT / "tests" / "data" / "human-allison-demo-congrats.wav"
TEXT = "The committee voted to extend the deadline until the end of the month, and nobody objected."
SAY_TEXTS = ["Please remember to bring your passport.", "Rain is expected across the northern regions.",
             "She opened the letter slowly."]
VOICES = ("heart", "joe", "profile:3f9a1c", "profile:b27e40")
# The child's own peak (VmHWM: ru_maxrss would carry the forking parent's peak across exec).
_RSS = ("import re, sys\nfrom voicekit.cli import main\ncode = main(sys.argv[1:])\n"
        "status = open('/proc/self/status').read()\n"
        "print(re.search(r'VmHWM:\\s+(\\d+)', status).group(1), file=sys.stderr)\nsys.exit(code)")


def cli(home: Path, *args: str) -> dict:
    """Run `voicekit ARGS` in a fresh process: seconds, peak RSS (MB), exit code."""
    env = {**os.environ, "VOICEKIT_HOME": str(home)}
    started = time.perf_counter()
    run = subprocess.run([sys.executable, "-c", _RSS, *args], env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    rss_kb = int(run.stderr.strip().splitlines()[-1])
    return {"seconds": round(seconds, 3), "peak_rss_mb": round(rss_kb / 1024, 1), "exit": run.returncode,
            "stdout": run.stdout}


def median_time(fn, repeats: int = 3) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return round(statistics.median(times), 4)


def grow(studio, template: dict, to: int, rng: np.random.Generator) -> None:
    """Append output entries until the ledger holds `to` of them, in transactions of 10,000, as
    the studio writes them: a reserved mark, a signed chained entry, the index, the witness."""
    from consent.ledger import LEDGER_LOCK

    ledger = studio.ledger
    have = outputs(ledger)
    now = time.time()
    while have < to:
        batch = min(10_000, to - have)
        with ledger.db.write(serialise=LEDGER_LOCK) as db:
            for i in range(batch):
                mark = int(rng.integers(0, 2 ** 32))
                if db.execute("INSERT INTO marks VALUES (:mark, :now) ON CONFLICT DO NOTHING",
                              {"mark": mark, "now": now}).rowcount != 1:
                    continue
                body = {**template, "mark_id": mark, "voice": VOICES[(have + i) % len(VOICES)],
                        "text_sha256": f"{rng.integers(0, 2 ** 63):064x}"}
                entry = ledger._insert(db, "output", body, now + (have + i) * 1e-3, None)
            have = db.execute("SELECT count(*) FROM entries WHERE kind = 'output'").fetchone()[0]
        ledger.witness.write(entry.seq, entry.hash)


def outputs(ledger) -> int:
    with ledger.db.read() as db:
        return db.execute("SELECT count(*) FROM entries WHERE kind = 'output'").fetchone()[0]


def measure(studio, home: Path, files: dict[str, Path]) -> dict:
    row: dict = {"outputs": outputs(studio.ledger)}
    for name, path in files.items():
        run = cli(home, "detect", str(path), "--json")
        found = json.loads(run["stdout"]) if run["exit"] == 0 else {}
        row[f"detect_{name}"] = {"cli_seconds": run["seconds"], "peak_rss_mb": run["peak_rss_mb"],
                                 "in_process_seconds": median_time(lambda p=path: studio.detect(p)),
                                 "watermarked": found.get("watermarked"), "record_found": found.get("mark_id") is not None}
    out = home.parent / "say.wav"
    run = cli(home, "say", SAY_TEXTS[0], "-o", str(out))
    texts = iter(SAY_TEXTS * 2)
    row["say"] = {"cli_seconds": run["seconds"], "peak_rss_mb": run["peak_rss_mb"],
                  "in_process_seconds": median_time(lambda: studio.speak(next(texts)))}
    started = time.perf_counter()
    for _ in range(2000):
        studio.ledger.reserve_mark(time.time())
    row["reservations_per_s"] = round(2000 / (time.perf_counter() - started))
    started = time.perf_counter()
    for i in range(300):
        studio.ledger.append("lexicon", {"voice": None, "lexicon_sha256": None, "entries": i}, now=time.time())
    row["appends_per_s"] = round(300 / (time.perf_counter() - started))
    checkpoint = studio.ledger.checkpoint(time.time())
    for i in range(1000):
        studio.ledger.append("lexicon", {"voice": None, "lexicon_sha256": None, "entries": i}, now=time.time())
    started = time.perf_counter()
    report = studio.ledger.verify(against=checkpoint)
    row["verify_from_checkpoint"] = {"seconds": round(time.perf_counter() - started, 3), "ok": report.ok,
                                     "entries_checked": report.entries - report.checked_from}
    run = cli(home, "ledger", "verify", "--json")
    row["verify_full"] = {"cli_seconds": run["seconds"], "peak_rss_mb": run["peak_rss_mb"], "ok": run["exit"] == 0}
    return row


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 100_000, 1_000_000])
    parser.add_argument("--database-url", help="the records on this server (migrated first), not the home's "
                        "SQLite files; the results go to scale-<dialect>.json")
    args = parser.parse_args()
    if args.database_url:
        from consent.database import DATABASE_URL_ENV, Database
        from consent.migrations import upgrade

        upgrade(Database(args.database_url))
        os.environ[DATABASE_URL_ENV] = args.database_url  # for the CLI runs too
    from detection.decoding import decode_file
    from detection.edits import ALL_EDITS
    from voicekit import Studio, audio

    work = Path(tempfile.mkdtemp(prefix="voicekit-scale-"))
    home = work / "home"
    studio = Studio(home=home)
    spoken = studio.speak(TEXT)
    files = {"marked": work / "marked.wav", "mp3_32k": work / "marked-mp3-32k.wav", "human": HUMAN}
    spoken.save(files["marked"])
    mp3 = next(e for e in ALL_EDITS if e.name == "mp3_32k")
    edited, rate = mp3.apply(spoken.audio, spoken.sample_rate, np.random.default_rng(0))
    audio.write_file(files["mp3_32k"], audio.encode(edited, rate, "wav"))
    template = {k: v for k, v in spoken.provenance["body"].items() if k not in ("mark_id", "voice")}
    decode_file(HUMAN)

    rng = np.random.default_rng(14)
    rows = []
    for size in sorted(args.sizes):
        started = time.perf_counter()
        grow(studio, template, size, rng)
        seeded = time.perf_counter() - started
        row = measure(studio, home, files)
        row["seed_seconds"] = round(seeded, 1)
        if not args.database_url:
            files = (home / "ledger").glob("ledger.db*")
            row["ledger_db_mb"] = round(sum(f.stat().st_size for f in files) / 2 ** 20, 1)
        rows.append(row)
        print(json.dumps(row), flush=True)

    base = rows[0]
    for row in rows:
        row["ratio_to_smallest"] = {
            key: round(row[key]["in_process_seconds"] / base[key]["in_process_seconds"], 3)
            for key in ("detect_marked", "detect_mp3_32k", "detect_human", "say")}
    result = {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores; Python {platform.python_version()}",
        "database": studio.ledger.db.dialect,
        "sizes": rows,
    }
    out = ROOT / "bench" / "results" / ("scale-postgresql.json" if args.database_url else "scale.json")
    out.write_text(json.dumps(result, indent=2) + "\n")
    header = (f"{'outputs':>9} {'det wav':>8} {'det mp3':>8} {'det hum':>8} {'say':>7} {'det cli':>8} {'det MB':>7} "
              f"{'say MB':>7} {'resv/s':>7} {'app/s':>6} {'vfy cp':>7} {'vfy all':>8}")
    print(header)
    for r in rows:
        print(f"{r['outputs']:>9} {r['detect_marked']['in_process_seconds']:>8.3f} "
              f"{r['detect_mp3_32k']['in_process_seconds']:>8.3f} {r['detect_human']['in_process_seconds']:>8.3f} "
              f"{r['say']['in_process_seconds']:>7.3f} {r['detect_human']['cli_seconds']:>8.2f} "
              f"{r['detect_human']['peak_rss_mb']:>7.0f} {r['say']['peak_rss_mb']:>7.0f} {r['reservations_per_s']:>7} "
              f"{r['appends_per_s']:>6} {r['verify_from_checkpoint']['seconds']:>7.2f} {r['verify_full']['cli_seconds']:>8.1f}")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()

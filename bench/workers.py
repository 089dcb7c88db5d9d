"""A book on Celery workers beside the embedded thread runner: `voicekit serve` and `voicekit worker`
processes over loopback, the records on a throwaway PostgreSQL, Redis as the broker (both started
here from Debian's packages, as the tests start them).

    python bench/workers.py [--book-words 20000] [--workers 1 2] [--requests 64]

For each setting: HTTP speech (20-word sentences, mp3) at 8 and 32 clients (bench/api_load.py's
clients: throughput, p50, p95), then the same generated book (api_load's, chapters of 2,500 words)
through POST /v1/audiobooks to the finished M4B: wall time, words a minute, and the speed-up of N
workers over one. With workers, every speech request is rendered on one (worker_speech_chars=0).
`in-process` is the default deployment (no broker: the server renders speech in its two render
slots and narrates on its thread; records in SQLite), and `in-process, PostgreSQL` the same on the
server, to tell the database's share from the workers'.

Then the shared parts a fleet leans on, for docs/scaling.md: ledger appends a second on the
PostgreSQL server from 1, 2 and 4 processes at once (one chain: the appends take turns), and tasks
a second one process sends through Redis.

Writes bench/results/workers.json and prints tables. Target (issue 21, 2 cores): 2 workers >= 1.8x one.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

from api_load import audiobook, serving, speech_level  # noqa: E402
from tests.postgres import PostgresServer  # noqa: E402
from tests.redisserver import RedisServer  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "workers.json"
PASSPHRASE = "bench fleet passphrase"


# `voicekit serve`, with every speech request sent to the workers when there are any (the default
# sends only requests of ServiceSettings.worker_speech_chars and longer).
SERVE = """
import sys, uvicorn
from api.main import create_app
from api.settings import ServiceSettings
uvicorn.run(create_app(ServiceSettings(worker_speech_chars=0)), host="127.0.0.1", port=int(sys.argv[1]),
            log_level="warning")
"""


def serve(env: dict[str, str]) -> tuple[subprocess.Popen, str]:
    return serving(lambda port: subprocess.Popen(
        [sys.executable, "-c", SERVE, str(port)], env=env | {"PYTHONPATH": str(ROOT)},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True))


def start_workers(env: dict[str, str], count: int, logs: Path) -> list[subprocess.Popen]:
    workers = []
    for i in range(count):
        log = logs / f"worker-{count}-{i}.log"
        workers.append(subprocess.Popen([sys.executable, "-m", "voicekit.cli", "worker", "--name", f"w{i}"], env=env,
                                        stdout=log.open("wb"), stderr=subprocess.STDOUT, start_new_session=True))
        while b" ready." not in log.read_bytes():  # one at a time: model loading would skew the other's start
            if workers[-1].poll() is not None:
                raise SystemExit(log.read_text()[-2000:])
            time.sleep(0.2)
    return workers


def stop(processes: list[subprocess.Popen]) -> None:
    for process in processes:
        os.killpg(process.pid, signal.SIGTERM)
    for process in processes:
        process.wait(timeout=60)


def run(setting: str, env: dict[str, str], workers: int, words: int, logs: Path, requests: int) -> dict:
    home = Path(env["VOICEKIT_HOME"])
    made = subprocess.run([sys.executable, "-m", "voicekit.cli", "api-keys", "create", "--owner", "bench",
                           "--scopes", "speak", "--rate-limit", "100000", "--json"],
                          env=env, capture_output=True, text=True, check=True)
    key = json.loads(made.stdout)["key"]
    server, url = serve(env)
    fleet = start_workers(env, workers, logs) if workers else []
    try:
        levels = []
        if requests:
            speech_level(url, key, 2, 4, 60)  # warm-up, not reported
            levels = [speech_level(url, key, clients, max(requests, 2 * clients), 120) for clients in (8, 32)]
        book = audiobook(url, key, words)
    finally:
        stop([server, *fleet])
    print(f"{setting}: {book['words']} words in {book['wall_s']} s ({book['status']}) under {home.name}", flush=True)
    return {"setting": setting, "workers": workers, "speech": levels} | book


APPENDER = """
import sys, time
from consent.records import Records
records = Records.open(sys.argv[1], b"bench fleet passphrase", now=time.time(), url=sys.argv[2])
records.ledger.append("note", {"warm": True}, now=time.time())
start = float(sys.argv[3])
while time.time() < start:
    time.sleep(0.001)
n = 0
while time.time() < start + float(sys.argv[4]):
    records.ledger.append("note", {"n": n}, now=time.time())
    n += 1
print(n)
"""


def ledger_appends(postgres: PostgresServer, folder: Path, processes: int, seconds: float = 10.0) -> dict:
    """Appends a second from `processes` processes appending at once to one ledger on the server."""
    url = postgres.new_database()
    start = time.time() + 15  # every process has opened the records by then
    env = {k: v for k, v in os.environ.items() if not k.startswith("VOICEKIT_")} | {"PYTHONPATH": str(ROOT)}
    runs = [subprocess.Popen([sys.executable, "-c", APPENDER, str(folder / f"appender-{processes}-{i}"), url,
                              str(start), str(seconds)], env=env, stdout=subprocess.PIPE, text=True)
            for i in range(processes)]
    counts = [int(run.communicate(timeout=120)[0]) for run in runs]
    return {"processes": processes, "appends": sum(counts), "appends_per_s": round(sum(counts) / seconds)}


def broker_sends(redis: RedisServer, count: int = 2000) -> dict:
    """Tasks a second one process sends to Redis (what the API does per job or chapter)."""
    from api.workers import celery_app

    app = celery_app(redis.new_url())
    app.send_task("voicekit.audit", args=["warm-up"])
    started = time.perf_counter()
    for i in range(count):
        app.send_task("voicekit.audit", args=[f"{i:016x}"])
    return {"tasks": count, "tasks_per_s": round(count / (time.perf_counter() - started))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--book-words", type=int, default=20_000)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--requests", type=int, default=64, help="speech requests per concurrency level")
    parser.add_argument("--books-only", action="store_true", help="only the book, only on workers")
    args = parser.parse_args()
    postgres, redis = PostgresServer(), RedisServer()
    rows = []
    try:
        with tempfile.TemporaryDirectory(prefix="voicekit-workers-") as folder:
            folder = Path(folder)
            base = {k: v for k, v in os.environ.items() if not k.startswith("VOICEKIT_")}
            requests = 0 if args.books_only else args.requests
            if not args.books_only:
                rows.append(run("in-process", base | {"VOICEKIT_HOME": str(folder / "embedded")}, 0,
                                args.book_words, folder, requests))
                rows.append(run("in-process, PostgreSQL", base | {"VOICEKIT_HOME": str(folder / "embedded-pg"),
                                                                  "VOICEKIT_DATABASE_URL": postgres.new_database(),
                                                                  "VOICEKIT_KEY_PASSPHRASE": PASSPHRASE},
                                0, args.book_words, folder, requests))
            for count in args.workers:
                env = base | {"VOICEKIT_HOME": str(folder / f"fleet-{count}"),
                              "VOICEKIT_DATABASE_URL": postgres.new_database(),
                              "VOICEKIT_BROKER_URL": redis.new_url(), "VOICEKIT_KEY_PASSPHRASE": PASSPHRASE}
                rows.append(run(f"{count} worker{'s' if count > 1 else ''}", env, count, args.book_words, folder,
                                requests))
            appends = [] if args.books_only else [ledger_appends(postgres, folder, n) for n in (1, 2, 4)]
            sends = {} if args.books_only else broker_sends(redis)
    finally:
        redis.stop()
        postgres.stop()
    one = next((r for r in rows if r["workers"] == 1), None)
    for row in rows:
        row["speed_up_over_one_worker"] = round(one["wall_s"] / row["wall_s"], 2) if one else None
    result = {"date": date.today().isoformat(), "machine": f"{platform.machine()}, {os.cpu_count()} cores",
              "book_words": args.book_words, "runs": rows, "ledger_appends": appends, "broker": sends}
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print("| setting | status | words | audio s | wall s | words/min | x real time | speed-up over 1 worker |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['setting']} | {r['status']} | {r['words']} | {r['audio_s']:.0f} | {r['wall_s']} | "
              f"{r['words_per_minute']} | {r['real_time_factor']} | {r['speed_up_over_one_worker']} |")
    print("\n| setting | clients | requests | errors | req/s | p50 s | p95 s |\n|---|---|---|---|---|---|---|")
    for r in rows:
        for level in r["speech"]:
            print(f"| {r['setting']} | {level['clients']} | {level['requests']} | {level['errors']} | "
                  f"{level['throughput_rps']} | {level['p50_s']} | {level['p95_s']} |")
    print("\n| appending processes | appends /s (one chain, PostgreSQL) |\n|---|---|")
    for a in appends:
        print(f"| {a['processes']} | {a['appends_per_s']} |")
    if sends:
        print(f"\nRedis: {sends['tasks_per_s']} tasks sent a second from one process")


if __name__ == "__main__":
    main()

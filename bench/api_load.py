"""Load on the HTTP service over loopback: `voicekit serve` in a subprocess, clients in threads.

    python bench/api_load.py [--requests 48] [--seconds 120] [--book-words 20000]

1. Speech: 1, 8 and 32 concurrent clients, each asking POST /v1/audio/speech for 20-word
   sentences (mp3, the OpenAI default), bounded by --requests per level and --seconds. Throughput,
   p50/p95/p99 latency and errors per level.
2. Streaming: time to first byte of POST /v1/audio/speech with "stream": true (pcm), one client.
3. Audiobooks: a generated book of --book-words words in chapters of 2,500 words, end to end
   (parsed, narrated, marked, gated, muxed to M4B, recorded): words a minute, and the minutes a
   100,000-word book would take at that pace.

Writes bench/results/api_load.json and prints a table. Targets (ANCHORS/issue 7, 2 cores): p95 <= 1 s
at 8 clients with 0 errors; first byte <= 150 ms; a 100,000-word book in <= 15 minutes.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import date
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "api_load.json"
WORDS = ("the old harbour keeper walked along quiet stone streets while gulls circled above bright water "
         "and small boats rocked gently near wooden piers as evening light turned golden over distant hills "
         "children laughed fishermen mended nets a bell rang softly from the chapel tower").split()


def sentence(rng: random.Random, words: int = 20) -> str:
    picked = [rng.choice(WORDS) for _ in range(words)]
    return " ".join(picked).capitalize() + "."


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))]


def start_server(home: Path) -> tuple[subprocess.Popen, str]:
    return serving(lambda port: subprocess.Popen(
        [sys.executable, "-m", "voicekit.cli", "--home", str(home), "serve", "--port", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))


def serving(start) -> tuple[subprocess.Popen, str]:
    """A server started by `start(port)` on a free loopback port, once it says it is ready."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    process = start(port)
    url = f"http://127.0.0.1:{port}"
    for _ in range(900):
        try:
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                return process, url
        except httpx.TransportError:
            time.sleep(0.2)
    raise SystemExit("the server did not become ready")


def speech_level(url: str, key: str, clients: int, requests: int, seconds: float) -> dict:
    rng = random.Random(clients)
    texts = [sentence(rng) for _ in range(requests)]
    latencies, errors, lock = [], [], threading.Lock()
    deadline = time.monotonic() + seconds

    def client() -> None:
        with httpx.Client(timeout=120, headers={"Authorization": f"Bearer {key}"}) as http:
            while time.monotonic() < deadline:
                with lock:
                    if not texts:
                        return
                    text = texts.pop()
                started = time.perf_counter()
                try:
                    response = http.post(f"{url}/v1/audio/speech",
                                         json={"model": "tts-1", "input": text, "voice": "heart"})
                    ok = response.status_code == 200 and len(response.content) > 1000
                except httpx.HTTPError as e:
                    ok, response = False, e
                elapsed = time.perf_counter() - started
                with lock:
                    if ok:
                        latencies.append(elapsed)
                    else:
                        errors.append(str(getattr(response, "status_code", response)))

    started = time.perf_counter()
    threads = [threading.Thread(target=client) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - started
    return {"clients": clients, "requests": len(latencies) + len(errors), "errors": len(errors),
            "error_examples": errors[:3], "wall_s": round(wall, 2),
            "throughput_rps": round(len(latencies) / wall, 2),
            "p50_s": round(percentile(latencies, 50), 3), "p95_s": round(percentile(latencies, 95), 3),
            "p99_s": round(percentile(latencies, 99), 3)}


def first_bytes(url: str, key: str, count: int = 20) -> dict:
    rng = random.Random(7)
    ttfb, totals = [], []
    with httpx.Client(timeout=120, headers={"Authorization": f"Bearer {key}"}) as http:
        for _ in range(count):
            text = " ".join(sentence(rng) for _ in range(3))
            started = time.perf_counter()
            with http.stream("POST", f"{url}/v1/audio/speech",
                             json={"input": text, "voice": "heart", "response_format": "pcm", "stream": True}) as r:
                chunks = r.iter_raw()
                next(chunks)
                ttfb.append(time.perf_counter() - started)
                for _ in chunks:
                    pass
                totals.append(time.perf_counter() - started)
    return {"requests": count, "ttfb_median_s": round(statistics.median(ttfb), 3),
            "ttfb_p95_s": round(percentile(ttfb, 95), 3), "ttfb_max_s": round(max(ttfb), 3),
            "whole_median_s": round(statistics.median(totals), 3)}


def audiobook(url: str, key: str, words: int) -> dict:
    rng = random.Random(11)
    chapters, left, n = [], words, 1
    while left > 0:
        size = min(2500, left)
        body, count = [], 0
        while count < size:
            s = sentence(rng, min(20, size - count))
            body.append(s)
            count += len(s.split())
        chapters.append(f"Chapter {n}\n\n" + " ".join(body))
        left, n = left - size, n + 1
    headers = {"Authorization": f"Bearer {key}"}
    started = time.perf_counter()
    job = httpx.post(f"{url}/v1/audiobooks", headers=headers, data={"text": "\n\n".join(chapters)}, timeout=120).json()
    while True:
        state = httpx.get(f"{url}/v1/audiobooks/{job['job_id']}", headers=headers, timeout=30).json()
        if state["status"] not in ("queued", "running"):
            break
        time.sleep(1)
    wall = time.perf_counter() - started
    book = httpx.get(f"{url}/v1/audiobooks/{job['job_id']}/result", headers=headers, timeout=120)
    per_minute = state["words_done"] / (wall / 60)
    return {"status": state["status"], "error": state["error"], "words": state["words_done"], "chapters": state["chapters_done"],
            "audio_s": state["seconds_done"], "wall_s": round(wall, 1), "words_per_minute": round(per_minute),
            "real_time_factor": round(state["seconds_done"] / wall, 1), "m4b_bytes": len(book.content),
            "minutes_for_100k_words": round(100_000 / per_minute, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=48,
                        help="requests per concurrency level (at least 2 per client)")
    parser.add_argument("--seconds", type=float, default=120, help="time bound per level")
    parser.add_argument("--book-words", type=int, default=20_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="voicekit-load-") as home:
        made = subprocess.run([sys.executable, "-m", "voicekit.cli", "--home", home, "api-keys", "create", "--owner",
                               "load", "--scopes", "speak", "--rate-limit", "100000", "--json"],
                              capture_output=True, text=True, check=True)
        key = json.loads(made.stdout)["key"]
        process, url = start_server(Path(home))
        try:
            speech_level(url, key, 2, 4, 60)  # warm-up, not reported
            levels = [speech_level(url, key, c, max(args.requests, 2 * c), args.seconds) for c in (1, 8, 32)]
            streaming = first_bytes(url, key)
            book = audiobook(url, key, args.book_words)
        finally:
            process.terminate()
            process.wait(timeout=30)
    result = {"date": date.today().isoformat(), "machine": f"{platform.machine()}, {os.cpu_count()} cores",
              "speech": levels, "streaming": streaming, "audiobook": book}
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print("| clients | requests | errors | req/s | p50 s | p95 s | p99 s |\n|---|---|---|---|---|---|---|")
    for level in levels:
        print(f"| {level['clients']} | {level['requests']} | {level['errors']} | {level['throughput_rps']} | "
              f"{level['p50_s']} | {level['p95_s']} | {level['p99_s']} |")
    print(f"\nstreaming first byte: median {streaming['ttfb_median_s']} s, p95 {streaming['ttfb_p95_s']} s, "
          f"max {streaming['ttfb_max_s']} s")
    print(f"audiobook: {book['words']} words, {book['chapters']} chapters, {book['audio_s']:.0f} s of audio in "
          f"{book['wall_s']} s = {book['words_per_minute']} words/min; 100,000 words: "
          f"{book['minutes_for_100k_words']} min ({book['status']})")


if __name__ == "__main__":
    main()

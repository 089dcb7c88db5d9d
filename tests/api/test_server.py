"""A real server: `voicekit serve` in a subprocess on 127.0.0.1, spoken to over the network.

Covers what only a real server shows: chunked streaming, the server-sent progress stream, and a
server killed in the middle of an audiobook that, restarted, finishes it without redoing (or
duplicating) the chapters it had finished.
"""
from __future__ import annotations

import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from consent.keys import RegistryKeys
from consent.ledger import Ledger
from detection.decoding import decode_bytes
from voicekit.m4b import read_chapters

SENTENCES = ["The harbour lights came on one by one as the evening ferry pulled away.",
             "Gulls circled the mast and cried.", "Then the town was quiet again."]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _voicekit(home: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "voicekit.cli", "--home", str(home), *args],
                          capture_output=True, text=True, timeout=120, check=True)


class Server:
    def __init__(self, home: Path) -> None:
        self.home, self.port, self.process = home, _free_port(), None
        self.url = f"http://127.0.0.1:{self.port}"

    def start(self) -> "Server":
        self.process = subprocess.Popen(
            [sys.executable, "-m", "voicekit.cli", "--home", str(self.home), "serve", "--port", str(self.port)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            assert self.process.poll() is None, "the server exited while starting"
            try:
                if httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        raise AssertionError("the server did not become ready in 120 s")

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    return tmp_path_factory.mktemp("server-home")


@pytest.fixture(scope="module")
def key(home):
    made = json.loads(_voicekit(home, "api-keys", "create", "--owner", "narrator", "--scopes", "speak,audit",
                                "--json").stdout)
    assert made["key"].startswith("vk_") and made["scopes"] == ["speak", "audit"]
    listed = _voicekit(home, "api-keys", "list", "--json").stdout
    assert made["key"] not in listed and made["key_id"] in listed
    return made["key"]


@pytest.fixture(scope="module")
def server(home, key):
    running = Server(home).start()
    yield running
    running.stop()


def _ledger(home: Path) -> Ledger:
    return Ledger(home / "ledger", RegistryKeys.open(home / "keys", os.environ.get("VOICEKIT_KEY_PASSPHRASE",
                                                                                   "").encode() or None))


def test_streaming_over_the_network_is_chunked_and_recorded(server, key, home):
    headers = {"Authorization": f"Bearer {key}"}
    pieces = []
    with httpx.stream("POST", f"{server.url}/v1/audio/speech", headers=headers, timeout=60,
                      json={"model": "tts-1", "input": " ".join(SENTENCES), "voice": "heart",
                            "response_format": "aac", "stream": True}) as response:
        assert response.status_code == 200
        assert response.headers["transfer-encoding"] == "chunked"
        mark_id = int(response.headers["X-Voicekit-Mark-Id"], 16)
        pieces = list(response.iter_raw())
    data = b"".join(pieces)
    assert len(pieces) >= 2
    samples, rate = decode_bytes(data)
    assert 4 < len(samples) / rate < 12
    closing = [e for e in _ledger(home).entries() if e.kind == "stream-end" and e.body["mark_id"] == mark_id]
    assert closing[0].body["complete"] and closing[0].body["audio_sha256"] == hashlib.sha256(data).hexdigest()


def test_progress_arrives_as_server_sent_events(server, key):
    headers = {"Authorization": f"Bearer {key}"}
    text = "# Three\n\n" + "".join(f"## Part {n}\n\n{s}\n\n" for n, s in zip("ABC", SENTENCES))
    job = httpx.post(f"{server.url}/v1/audiobooks", headers=headers, timeout=30,
                     files={"file": ("three.md", text.encode())}).json()
    events = []
    with httpx.stream("GET", f"{server.url}/v1/audiobooks/{job['job_id']}/events", headers=headers,
                      timeout=120) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        event = None
        for line in response.iter_lines():
            if line.startswith("event:"):
                event = line.split(":", 1)[1].strip()
            elif line.startswith("data:"):
                events.append((event, json.loads(line.split(":", 1)[1])))
    assert events[-1][0] == "done" and events[-1][1]["chapters_done"] == 3
    assert all(name == "progress" for name, _ in events[:-1])
    done_counts = [data["chapters_done"] for _, data in events]
    assert done_counts == sorted(done_counts)


def test_a_killed_server_resumes_the_book_without_redoing_chapters(home, key):
    headers = {"Authorization": f"Bearer {key}"}
    paragraph = " ".join(SENTENCES * 6)
    text = "\n\n".join(f"Chapter {n}\n\n{paragraph}" for n in range(1, 7))
    first = Server(home).start()
    try:
        job = httpx.post(f"{first.url}/v1/audiobooks", headers=headers, data={"text": text}, timeout=30).json()
        deadline = time.monotonic() + 120
        while True:
            state = httpx.get(f"{first.url}/v1/audiobooks/{job['job_id']}", headers=headers, timeout=10).json()
            if state["chapters_done"] >= 1 or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        first.kill()
    finally:
        first.stop()
    before = {c["index"]: c["mark_id"] for c in state["chapters"] if c["done"]}
    assert before and state["status"] == "running" and len(before) < 6

    second = Server(home).start()
    try:
        deadline = time.monotonic() + 300
        while True:
            after = httpx.get(f"{second.url}/v1/audiobooks/{job['job_id']}", headers=headers, timeout=10).json()
            if after["status"] not in ("queued", "running") or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert after["status"] == "done", after.get("error")
        book = httpx.get(f"{second.url}/v1/audiobooks/{job['job_id']}/result", headers=headers, timeout=30).content
    finally:
        second.stop()
    marks = [c["mark_id"] for c in after["chapters"]]
    assert all(marks[i] == mark for i, mark in before.items())  # finished chapters were not rendered again
    assert len(set(marks)) == 6 and [m["title"] for m in read_chapters(book)] == [f"Chapter {n}" for n in range(1, 7)]
    books = [e for e in _ledger(home).entries() if e.kind == "audiobook" and e.body["job_id"] == job["job_id"]]
    assert len(books) == 1 and [c["mark_id"] for c in books[0].body["chapters"]] == marks

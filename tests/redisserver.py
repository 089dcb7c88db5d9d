"""A real Redis server for the tests (Debian's `redis-server`, installed by `make setup`'s system
step): no persistence, listening on a Unix socket in a temporary folder only. Started and stopped
by the tests themselves."""
from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from pathlib import Path


class RedisServer:
    def __init__(self) -> None:
        binary = shutil.which("redis-server") or "/usr/bin/redis-server"
        if not Path(binary).exists():
            raise RuntimeError("redis-server is not installed (make setup installs Debian's redis-server)")
        self.folder = Path(tempfile.mkdtemp(prefix="voicekit-redis-"))
        self.socket = self.folder / "redis.sock"
        self._process = subprocess.Popen(
            [binary, "--port", "0", "--unixsocket", str(self.socket), "--unixsocketperm", "700",
             "--save", "", "--appendonly", "no", "--dir", str(self.folder), "--logfile", str(self.folder / "log")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 20
        while not self.socket.exists():
            if self._process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"redis-server did not start: {(self.folder / 'log').read_text()[-500:]}")
            time.sleep(0.05)
        self._databases = iter(range(16))

    def new_url(self) -> str:
        """A broker URL on a database of its own (Redis has 16): tests never see each other's tasks."""
        return f"redis+socket://{self.socket}?virtual_host={next(self._databases)}"

    def stop(self) -> None:
        self._process.terminate()
        self._process.wait(timeout=20)
        shutil.rmtree(self.folder, ignore_errors=True)

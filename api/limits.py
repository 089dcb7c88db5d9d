"""Request limits: body size and read time (an ASGI middleware, before any route reads the body),
per-key rate limits (token buckets) and the number of requests rendering at once."""
from __future__ import annotations

import asyncio
import json
import threading
import time
from contextlib import contextmanager
from typing import Any, Callable, Iterator, TypeVar

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.problems import PROBLEM_JSON, Problem

T = TypeVar("T")


class BodyLimit:
    """Refuse a body over `max_bytes` (413) or one that arrives slower than `timeout_s` (408),
    whether or not it declared a Content-Length."""

    def __init__(self, app: ASGIApp, max_bytes: int, timeout_s: float) -> None:
        self.app, self.max_bytes, self.timeout_s = app, max_bytes, timeout_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await _refuse(send, 413, "body-too-large",
                          f"the request body is {int(declared)} bytes; the limit is {self.max_bytes}")
            return
        received, started = 0, False
        refused: _BodyRefused | None = None
        deadline = time.monotonic() + self.timeout_s

        async def limited() -> Message:
            nonlocal received, refused
            if refused is not None:
                raise refused
            try:
                message = await asyncio.wait_for(receive(), max(0.001, deadline - time.monotonic()))
            except asyncio.TimeoutError:
                refused = _BodyRefused(408, "request-timeout",
                                       f"the request body did not arrive within {self.timeout_s:g} s")
                raise refused from None
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    refused = _BodyRefused(413, "body-too-large",
                                           f"the request body is over the {self.max_bytes}-byte limit")
                    raise refused
            return message

        async def tracked(message: Message) -> None:
            # Once the body is refused, whatever the app makes of the exception (a form parser
            # turns it into "400 invalid multipart data") is dropped: the answer is ours.
            nonlocal started
            if refused is not None and not started:
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited, tracked)
        except _BodyRefused:
            pass
        finally:
            if refused is not None and not started:
                await _refuse(send, refused.status, refused.slug, refused.detail)


class _BodyRefused(Exception):
    def __init__(self, status: int, slug: str, detail: str) -> None:
        super().__init__(detail)
        self.status, self.slug, self.detail = status, slug, detail


async def _refuse(send: Send, status: int, slug: str, detail: str) -> None:
    body = json.dumps({"type": f"urn:voicekit:problem:{slug}", "title": slug.replace("-", " "),
                       "status": status, "detail": detail}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", PROBLEM_JSON.encode()), (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})


class RateLimiter:
    """One token bucket per API key: `rate_per_minute` tokens a minute, holding at most a minute's worth."""

    def __init__(self) -> None:
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def take(self, key_id: str, rate_per_minute: int, now: float | None = None) -> None:
        """Spend one token; raises Problem 429 with Retry-After when the bucket is empty."""
        now = time.monotonic() if now is None else now
        per_second = rate_per_minute / 60
        with self._lock:
            tokens, at = self._buckets.get(key_id, (float(rate_per_minute), now))
            tokens = min(float(rate_per_minute), tokens + (now - at) * per_second)
            if tokens < 1:
                wait = (1 - tokens) / per_second
                self._buckets[key_id] = (tokens, now)
                raise Problem(429, "rate-limited",
                              f"this key may make {rate_per_minute} requests a minute; try again in {wait:.1f} s",
                              headers={"Retry-After": str(max(1, round(wait + 0.5)))})
            self._buckets[key_id] = (tokens - 1, now)


class RenderSlots:
    """At most `count` requests render at once; the rest wait up to `wait_s`, then get 429."""

    def __init__(self, count: int, wait_s: float) -> None:
        self._slots = threading.BoundedSemaphore(count)
        self.wait_s = wait_s

    def acquire(self) -> None:
        if not self._slots.acquire(timeout=self.wait_s):
            raise Problem(429, "server-busy", f"every renderer stayed busy for {self.wait_s:g} s; try again shortly",
                          headers={"Retry-After": "5"})

    def release(self) -> None:
        self._slots.release()

    @contextmanager
    def held(self) -> Iterator[None]:
        self.acquire()
        try:
            yield
        finally:
            self.release()

    def run(self, work: Callable[..., T], *args: Any) -> T:
        """`work(*args)` in a slot (for a worker thread: acquiring may wait up to `wait_s`)."""
        with self.held():
            return work(*args)

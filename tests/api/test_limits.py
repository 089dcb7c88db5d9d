"""Body limits over a real socket (uvicorn in a thread, on 127.0.0.1): a body sent in chunks
without a Content-Length is held to the same size limit (413), and one that stalls gets 408,
both as problem+json, before any route reads it."""
from __future__ import annotations

import json
import socket
import threading
import time

import pytest
import uvicorn

from api.main import create_app
from api.settings import MB, ServiceSettings


@pytest.fixture(scope="module")
def address(tmp_path_factory):
    app = create_app(ServiceSettings(home=tmp_path_factory.mktemp("limits"), max_body_bytes=1 * MB,
                                     body_timeout_s=1.0))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    yield "127.0.0.1", port
    server.should_exit = True
    thread.join(timeout=30)


def _answer(sock: socket.socket) -> tuple[int, dict]:
    data = b""
    sock.settimeout(30)
    while b"\r\n\r\n" not in data or not data.rstrip().endswith(b"}"):
        piece = sock.recv(65536)
        if not piece:
            break
        data += piece
    head, _, body = data.partition(b"\r\n\r\n")
    status = int(head.split(b" ")[1])
    assert b"application/problem+json" in head
    return status, json.loads(body[body.index(b"{"):])


def _request_head(port: int, extra: str) -> bytes:
    return (f"POST /v1/detect HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: Bearer vk_x\r\n"
            f"Content-Type: multipart/form-data; boundary=b\r\n{extra}\r\n").encode()


def test_a_chunked_body_over_the_limit_is_413(address):
    host, port = address
    with socket.create_connection((host, port)) as sock:
        sock.sendall(_request_head(port, "Transfer-Encoding: chunked\r\n"))
        start = b'--b\r\nContent-Disposition: form-data; name="file"; filename="a.wav"\r\n\r\n'
        sock.sendall(b"%x\r\n" % len(start) + start + b"\r\n")
        piece = b"x" * 65536
        try:
            for _ in range(40):  # 2.5 MB against a 1 MB limit
                sock.sendall(b"%x\r\n" % len(piece) + piece + b"\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered and closed; the answer is still in the socket
        status, problem = _answer(sock)
    assert status == 413 and problem["type"] == "urn:voicekit:problem:body-too-large", problem


def test_a_body_that_stalls_is_408(address):
    host, port = address
    with socket.create_connection((host, port)) as sock:
        sock.sendall(_request_head(port, "Content-Length: 100000\r\n") + b"--b\r\n")
        started = time.monotonic()
        status, problem = _answer(sock)
    assert status == 408 and problem["type"] == "urn:voicekit:problem:request-timeout", problem
    assert time.monotonic() - started < 20

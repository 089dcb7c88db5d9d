"""serve, worker and demo."""
from __future__ import annotations

import argparse
import os
from pathlib import Path

from voicekit.cli.common import EXIT_OK, show, studio
from voicekit.errors import BadInput


def register(commands) -> None:
    serve = commands.add_parser("serve", help="run the HTTP service (OpenAPI UI at /docs)")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    serve.set_defaults(run=_serve)

    worker = commands.add_parser("worker", help="run a Celery worker for audiobooks, songs and audits "
                                 "(needs VOICEKIT_BROKER_URL; one per core)")
    worker.add_argument("--broker", help="the Redis broker's URL (default: VOICEKIT_BROKER_URL)")
    worker.add_argument("--name", help="this worker's name in Celery's logs (default: celery@host)")
    worker.set_defaults(run=_worker)

    demo = commands.add_parser("demo", help="render, mark, gate and detect a sentence in each house voice")
    demo.add_argument("--out", type=Path, default=Path("demo-out"), help="folder for the demo files")
    demo.add_argument("--json", action="store_true")
    demo.set_defaults(run=_demo)


def _serve(args: argparse.Namespace) -> int:
    """Run the service with uvicorn. The app is named by its import string (the `api` package sits
    above this one, so nothing here imports it); it reads VOICEKIT_HOME like every command."""
    import uvicorn

    if args.home is not None:
        os.environ["VOICEKIT_HOME"] = str(args.home)
    uvicorn.run("api.main:create_app", factory=True, host=args.host, port=args.port, log_level="info")
    return EXIT_OK


def _worker(args: argparse.Namespace) -> int:
    """One worker process until it is stopped. Like `serve`, it names the `api` package by string."""
    import importlib

    broker = args.broker or os.environ.get("VOICEKIT_BROKER_URL")
    if not broker:
        raise BadInput("a worker needs a broker: set VOICEKIT_BROKER_URL (or --broker) to the Redis URL "
                       "the API sends its jobs to")
    if args.home is not None:
        os.environ["VOICEKIT_HOME"] = str(args.home)
    for pool in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(pool, "1")  # a worker is one core: start one per core, not one per machine
    importlib.import_module("api.workers").run_worker(broker, args.name)
    return EXIT_OK


def _demo(args: argparse.Namespace) -> int:
    from voicekit.demo import run_demo

    rows = run_demo(studio(args), args.out, human_recording=_shipped_human_recording())
    text = "\n".join(f"{r['file']:<40} {'watermarked' if r['watermarked'] else 'not watermarked':<16} "
                     f"p={r['p_value']:<10.3g} voice={r['voice'] or '-'}" for r in rows)
    show(rows, args.json, text)
    return EXIT_OK


def _shipped_human_recording() -> Path | None:
    path = Path(__file__).resolve().parents[2] / "tests" / "data" / "human-allison-demo-congrats.wav"
    return path if path.exists() else None

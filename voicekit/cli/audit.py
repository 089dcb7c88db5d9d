"""detect: is this file ours? which voice, which record?"""
from __future__ import annotations

import argparse
from pathlib import Path

from voicekit.cli.common import EXIT_OK, parse_time, show, studio


def register(commands) -> None:
    detect = commands.add_parser("detect", help="is this file ours? which voice, which record?")
    detect.add_argument("file", type=Path)
    detect.add_argument("--since", help="made after this ISO date or date-time: also match that window's outputs")
    detect.add_argument("--until", help="made before this ISO date or date-time (default: now)")
    detect.add_argument("--json", action="store_true")
    detect.set_defaults(run=_detect)


def _detect(args: argparse.Namespace) -> int:
    since = None if args.since is None else parse_time(args.since, "--since")
    until = None if args.until is None else parse_time(args.until, "--until", end_of_day=True)
    finding = studio(args).detect(args.file, since=since, until=until).as_dict()
    verdict = "watermarked" if finding["watermarked"] else "not watermarked"
    extra = f", mark {finding['mark_id']}, voice {finding['provenance']['voice']}" if finding["provenance"] else ""
    show(finding, args.json, f"{args.file}: {verdict} (p={finding['p_value']:.3g}){extra}")
    return EXIT_OK

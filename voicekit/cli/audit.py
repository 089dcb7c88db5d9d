"""detect and audit: is this file ours? which voice, which record, under which consent?"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from voicekit.cli.common import EXIT_OK, iso, parse_time, show, studio

VERIFY_REPORT = "verify-report"


def register(commands) -> None:
    detect = commands.add_parser("detect", help="is this file ours? which voice, which record?")
    detect.add_argument("file", type=Path)
    detect.add_argument("--since", help="made after this ISO date or date-time: also match that window's outputs")
    detect.add_argument("--until", help="made before this ISO date or date-time (default: now)")
    detect.add_argument("--json", action="store_true")
    detect.set_defaults(run=_detect)

    audit = commands.add_parser(
        "audit", help="files and folders in, a signed report out; `audit verify-report FILE` checks one",
        description="Audit audio files and folders: per file, our mark, the record it names and the "
                    "voice's consent then and now. `voicekit audit verify-report FILE [--key HEX]` "
                    "checks a report's signature.")
    audit.add_argument("paths", nargs="+", metavar="PATH")
    audit.add_argument("--recursive", "-r", action="store_true", help="also audit the files in subfolders")
    audit.add_argument("--report", type=Path,
                       help="write the signed report here: JSON, or a page with figures if it ends in .html")
    audit.add_argument("--key", help="verify-report: the public key (hex) that must have signed the report")
    audit.add_argument("--json", action="store_true", help="print the signed JSON report")
    audit.set_defaults(run=_audit)


def _detect(args: argparse.Namespace) -> int:
    since = None if args.since is None else parse_time(args.since, "--since")
    until = None if args.until is None else parse_time(args.until, "--until", end_of_day=True)
    finding = studio(args).detect(args.file, since=since, until=until).as_dict()
    verdict = "watermarked" if finding["watermarked"] else "not watermarked"
    extra = f", mark {finding['mark_id']}, voice {finding['provenance']['voice']}" if finding["provenance"] else ""
    show(finding, args.json, f"{args.file}: {verdict} (p={finding['p_value']:.3g}){extra}")
    return EXIT_OK


def _audit(args: argparse.Namespace) -> int:
    if args.paths[0] == VERIFY_REPORT:
        return _verify_report(args)
    from tqdm import tqdm

    from voicekit.audio import check_output_path, write_file

    if args.report is not None:
        check_output_path(args.report)  # before the work, not after it
    with tqdm(unit="file", disable=not sys.stderr.isatty(), desc="audit") as bar:
        def progress(done: int, total: int, path: Path) -> None:
            bar.total = total
            bar.update(1)

        auditor = studio(args)
        document = auditor.audit(args.paths, recursive=args.recursive, on_file=progress)
    if args.report is not None and args.report.suffix.lower() in (".html", ".htm"):
        from detection.report_html import render

        write_file(args.report, render(document, auditor.watermarker).encode())
    elif args.report is not None:
        write_file(args.report, json.dumps(document, indent=2).encode())
    body = document["report"]
    lines = [_line(row) for row in body["files"]]
    lines.append("summary: " + ", ".join(f"{n} {verdict}" for verdict, n in body["summary"].items()))
    show(document, args.json, "\n".join(lines))
    return EXIT_OK


def _verify_report(args: argparse.Namespace) -> int:
    from detection.errors import ReportInvalid
    from detection.report import verify_report

    if len(args.paths) != 2:
        raise ReportInvalid(f"usage: voicekit audit {VERIFY_REPORT} FILE [--key HEX]")
    path = Path(args.paths[1])
    try:
        data = path.read_bytes()
    except OSError as e:
        raise ReportInvalid(f"cannot read {path}: {e.strerror}") from e
    key_id = verify_report(data, args.key)
    show({"valid": True, "key_id": key_id}, args.json,
         f"{path}: signature valid, by key {key_id}" + ("" if args.key else
                                                         " (compare it with `voicekit keys export-public`)"))
    return EXIT_OK


def _line(row: dict) -> str:
    verdict = row["verdict"]
    if verdict == "unreadable":
        return f"{row['path']}: unreadable: {row['error']}"
    text = f"{row['path']}: {verdict} (p={row['p_value']:.3g})"
    sounds = {True: "synthetic", False: "not synthetic", None: "too little speech"}[row["passive"]["synthetic"]]
    text += f", passive detector: {sounds}"
    if "consent" in row:
        consent = row["consent"]
        made = iso(row["provenance"]["time"])
        text += (f", mark {row['mark_id']}, voice {consent['voice']}, made {made}; consent then "
                 f"{consent['then']['status']}, now {consent['now']['status']}")
    elif verdict == "record-invalid":
        problems = row["provenance"]["ledger_chain"]["problems"] or ["its signature does not verify"]
        text += f", mark {row['mark_id']}: its ledger record does not verify ({problems[0]})"
    if row["c2pa"]["present"]:
        text += f", C2PA {row['c2pa']['state'].lower()}"
    return text


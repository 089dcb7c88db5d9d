"""The `voicekit` command: a thin shell over the studio.

Exit codes: 0 success; 2 bad input (empty text, unknown format, unreadable file, bad path);
3 consent refused (unknown, revoked, expired or tampered voice); 4 the release gate refused;
5 the ledger does not verify; 1 anything else. Errors are one line on stderr.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, Sequence

EXIT_OK, EXIT_ERROR, EXIT_BAD_INPUT, EXIT_CONSENT, EXIT_GATE, EXIT_LEDGER = 0, 1, 2, 3, 4, 5


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, our exit code for bad input
        self.exit(EXIT_BAD_INPUT, f"voicekit: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="voicekit", description="Speech synthesis behind consent, a watermark and a gate.")
    parser.add_argument("--home", type=Path, help="data folder (default: VOICEKIT_HOME or the user data dir)")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    say = commands.add_parser("say", help="speak text to an audio file")
    say.add_argument("text", help="the text to speak; '-' reads standard input")
    say.add_argument("-o", "--output", required=True, type=Path, help="output file: .wav, .flac, .ogg or .mp3")
    say.add_argument("--voice", default="heart", help="heart, joe or profile:ID (default heart)")
    say.add_argument("--sample-rate", type=int, default=24000, help="output rate in Hz (default 24000)")
    say.add_argument("--json", action="store_true", help="print the result as JSON")

    voices = commands.add_parser("voices", help="list the registered voices")
    voices.add_argument("--json", action="store_true")

    detect = commands.add_parser("detect", help="is this file ours? which voice, which record?")
    detect.add_argument("file", type=Path)
    detect.add_argument("--json", action="store_true")

    ledger = commands.add_parser("ledger", help="the tamper-evident ledger")
    ledger_commands = ledger.add_subparsers(dest="ledger_command", required=True, parser_class=_Parser)
    verify = ledger_commands.add_parser("verify", help="check every entry, signature and the head")
    verify.add_argument("--json", action="store_true")

    demo = commands.add_parser("demo", help="render, mark, gate and detect a sentence in each house voice")
    demo.add_argument("--out", type=Path, default=Path("demo-out"), help="folder for the demo files")
    demo.add_argument("--json", action="store_true")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from consent.errors import ConsentError, LedgerCorrupt
    from detection.errors import GateRefused, UnreadableAudio
    from voicekit.errors import BadInput

    try:
        return _run(args)
    except (BadInput, UnreadableAudio) as e:
        return _fail(EXIT_BAD_INPUT, str(e))
    except LedgerCorrupt as e:
        return _fail(EXIT_LEDGER, f"ledger: {e}")
    except ConsentError as e:
        return _fail(EXIT_CONSENT, f"consent refused: {e}")
    except GateRefused as e:
        return _fail(EXIT_GATE, f"release gate refused the audio: {e}")
    except KeyboardInterrupt:
        return _fail(EXIT_ERROR, "interrupted")


def _run(args: argparse.Namespace) -> int:
    from voicekit.studio import Studio

    if args.command == "say":
        text = sys.stdin.read() if args.text == "-" else args.text
        from voicekit import audio

        fmt = audio.format_for(args.output)
        audio.check_output_path(args.output)
        studio = Studio(home=args.home)
        result = studio.speak(text, voice=args.voice, sample_rate=args.sample_rate, format=fmt)
        result.save(args.output)
        summary = {
            "output": str(args.output), "voice": args.voice, "mark_id": f"{result.mark_id:08x}",
            "duration_s": round(len(result.audio) / result.sample_rate, 3), "sample_rate": result.sample_rate,
            "ledger_seq": result.provenance["seq"],
        }
        _print(summary, args.json, f"wrote {args.output} ({summary['duration_s']} s, mark {summary['mark_id']})")
        return EXIT_OK

    studio = Studio(home=args.home)
    if args.command == "voices":
        rows = [
            {"voice": s.voice_id, "status": s.status, "kind": s.profile.kind if s.profile else None,
             "engine": s.profile.engine if s.profile else None,
             "name": s.profile.display_name if s.profile else None,
             "licence": s.profile.licence if s.profile else None}
            for s in studio.registry.statuses_at(studio.clock())
        ]
        text = "\n".join(f"{r['voice']:<20} {r['status']:<9} {r['name'] or ''}" for r in rows)
        _print(rows, args.json, text)
        return EXIT_OK
    if args.command == "detect":
        finding = studio.detect(args.file).as_dict()
        verdict = "watermarked" if finding["watermarked"] else "not watermarked"
        extra = f", mark {finding['mark_id']}, voice {finding['provenance']['voice']}" if finding["provenance"] else ""
        _print(finding, args.json, f"{args.file}: {verdict} (p={finding['p_value']:.3g}){extra}")
        return EXIT_OK
    if args.command == "ledger":
        report = studio.ledger.verify()
        lines = [f"ledger {'ok' if report.ok else 'BROKEN'}: {report.entries} entries"] + report.problems
        _print(report.as_dict(), args.json, "\n".join(lines))
        return EXIT_OK if report.ok else EXIT_LEDGER
    if args.command == "demo":
        from voicekit.demo import run_demo

        rows = run_demo(studio, args.out, human_recording=_shipped_human_recording())
        text = "\n".join(
            f"{r['file']:<40} {'watermarked' if r['watermarked'] else 'not watermarked':<16} "
            f"p={r['p_value']:<10.3g} voice={r['voice'] or '-'}"
            for r in rows
        )
        _print(rows, args.json, text)
        return EXIT_OK
    raise AssertionError(args.command)


def _shipped_human_recording() -> Path | None:
    path = Path(__file__).resolve().parent.parent / "tests" / "data" / "human-allison-demo-congrats.wav"
    return path if path.exists() else None


def _print(data: Any, as_json: bool, text: str) -> None:
    print(json.dumps(data, indent=2) if as_json else text)


def _fail(code: int, message: str) -> int:
    print(f"voicekit: {message}", file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main())

"""sing: a score (MusicXML, MIDI or voicekit's JSON form) sung to an audio file."""
from __future__ import annotations

import argparse
from pathlib import Path

from voicekit.cli.common import EXIT_OK, show, studio


def register(commands) -> None:
    sing = commands.add_parser("sing", help="sing a score (MusicXML, MIDI with lyrics, or JSON) to an audio file")
    sing.add_argument("score", type=Path, help="a .musicxml/.xml/.mxl, .mid/.midi or .json score")
    sing.add_argument("-o", "--output", required=True, type=Path,
                      help="output file: .wav, .flac, .ogg, .mp3, .opus, .aac or .m4a")
    sing.add_argument("--voice", default="heart", help="heart, joe or profile:ID (its consent must cover singing)")
    sing.add_argument("--transpose", type=int, default=0, metavar="N", help="semitones up (or down, negative)")
    sing.add_argument("--tempo", type=float, metavar="BPM", help="the first tempo (later changes keep their ratios)")
    sing.add_argument("--part", help="which part to sing (default: the first with lyrics)")
    sing.add_argument("--verse", type=int, default=1, help="which verse of the lyrics (default 1)")
    sing.add_argument("--sample-rate", type=int, default=24000, help="output rate in Hz (default 24000)")
    sing.add_argument("--json", action="store_true", help="print the result as JSON")
    sing.set_defaults(run=_sing)


def _sing(args: argparse.Namespace) -> int:
    from voicekit import audio

    fmt = audio.format_for(args.output)
    audio.check_output_path(args.output)
    result = studio(args).sing(args.score, args.voice, transpose=args.transpose, tempo=args.tempo, part=args.part,
                               verse=args.verse, format=fmt, sample_rate=args.sample_rate)
    result.save(args.output)
    summary = {"output": str(args.output), "voice": args.voice, "mark_id": f"{result.mark_id:08x}",
               "duration_s": round(len(result.audio) / result.sample_rate, 3), "sample_rate": result.sample_rate,
               "ledger_seq": result.provenance["seq"]}
    show(summary, args.json, f"wrote {args.output} ({summary['duration_s']} s, mark {summary['mark_id']})")
    return EXIT_OK

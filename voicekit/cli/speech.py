"""say, voices, models and lexicon: speaking, and what speaks."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from voicekit.cli.common import EXIT_OK, show, studio
from voicekit.errors import BadInput
from voicekit.styles import STYLES


def register(commands) -> None:
    say = commands.add_parser("say", help="speak text to an audio file")
    say.add_argument("text", nargs="?", help="the text to speak; '-' reads standard input")
    say.add_argument("--ssml", metavar="FILE|STRING", help="speak an SSML document (a file, or the markup itself)")
    say.add_argument("--rate", type=float, help="speed factor, 0.5..2 (default: the voice's pace)")
    say.add_argument("--pitch", type=float, help="pitch change in semitones, -12..12 (default 0)")
    say.add_argument("--style", help="speaking style: " + ", ".join(STYLES) + " (default neutral)")
    say.add_argument("--loudness", choices=("speech", "acx"),
                     help="loudness preset: speech (-18 LUFS, default) or acx (audiobooks: -20 LUFS, peaks -3.5 dBTP)")
    say.add_argument("--lexicon", type=Path, metavar="FILE",
                     help="pronunciations for this request: a PLS file (.pls/.xml) or word<TAB>IPA lines")
    say.add_argument("--timings", type=Path, metavar="FILE", help="write word start/end times and marks as JSON")
    say.add_argument("-o", "--output", required=True, type=Path,
                     help="output file: .wav, .flac, .ogg, .mp3, .opus, .aac or .m4a")
    say.add_argument("--voice", default="heart", help="heart, joe, a registered model voice or profile:ID (default heart)")
    say.add_argument("--clone-with", metavar="MODEL_VOICE",
                     help="speak profile:ID with this registered cloning model (XTTS-v2, YourTTS) instead of its fit")
    say.add_argument("--sample-rate", type=int, default=24000, help="output rate in Hz (default 24000)")
    say.add_argument("--json", action="store_true", help="print the result as JSON")
    say.set_defaults(run=_say)

    voices = commands.add_parser("voices", help="list the registered voices (or add a model voice)")
    voices.add_argument("--json", action="store_true")
    voices.set_defaults(run=_voices)
    voice_commands = voices.add_subparsers(dest="voices_command", parser_class=type(voices))
    add = voice_commands.add_parser("add", help="register a local coqui-tts model folder as a voice")
    add.add_argument("name", help="the new voice's name (lower-case letters, digits, - and _)")
    add.add_argument("--coqui", required=True, type=Path, metavar="FOLDER", help="folder with config.json and the checkpoint")
    add.add_argument("--licence", required=True, help="what the model's weights and training data allow")
    add.add_argument("--speaker", help="built-in speaker of a multi-speaker model")
    add.add_argument("--language", help="language of a multilingual model (e.g. en)")
    add.add_argument("--json", action="store_true")
    add.set_defaults(run=_add_voice)

    models = commands.add_parser("models", help="fetch coqui-tts or MusicGen models (the only command that downloads)")
    model_commands = models.add_subparsers(dest="models_command", required=True, parser_class=type(models))
    download = model_commands.add_parser("download", help="download a coqui-tts model by name into the data folder")
    download.add_argument("name", help="e.g. tts_models/en/ljspeech/vits, tts_models/multilingual/multi-dataset/xtts_v2 "
                                       "or musicgen:small (a song's backing)")
    download.add_argument("--accept-licence", action="store_true", help="agree to a licence the model requires (XTTS-v2: CPML)")
    download.add_argument("--json", action="store_true")
    download.set_defaults(run=_download)

    lexicon = commands.add_parser("lexicon", help="stored pronunciation lexicons, applied to every request")
    lexicon_commands = lexicon.add_subparsers(dest="lexicon_command", required=True, parser_class=type(lexicon))
    lexicon_set = lexicon_commands.add_parser("set", help="store a lexicon (PLS or word<TAB>IPA), global or a voice's")
    lexicon_set.add_argument("file", type=Path)
    lexicon_set.add_argument("--voice", help="only for this voice (default: every voice)")
    lexicon_set.add_argument("--json", action="store_true")
    lexicon_clear = lexicon_commands.add_parser("clear", help="remove the stored lexicon, global or a voice's")
    lexicon_clear.add_argument("--voice")
    lexicon_clear.add_argument("--json", action="store_true")
    for parser in (lexicon_set, lexicon_clear):
        parser.set_defaults(run=_lexicon)


def _say(args: argparse.Namespace) -> int:
    from consent.atomic import atomic_write
    from voicekit import audio
    from voicekit.studio import SpeechOptions
    from voicekit.text.lexicon import Lexicon

    text = _say_text(args)
    fmt = audio.format_for(args.output)
    audio.check_output_path(args.output)
    if args.timings is not None:
        audio.check_output_path(args.timings)
    options = SpeechOptions(
        sample_rate=args.sample_rate, format=fmt, ssml=args.ssml is not None, rate=args.rate, pitch=args.pitch,
        style=args.style, lexicon=Lexicon.load(args.lexicon) if args.lexicon is not None else None,
        word_timings=args.timings is not None, clone_with=args.clone_with, loudness=args.loudness)
    result = studio(args).speak(text, args.voice, options)
    result.save(args.output)
    if args.timings is not None:
        atomic_write(args.timings, json.dumps({
            "audio": args.output.name, "mark_id": f"{result.mark_id:08x}",
            "words": [w.as_dict() for w in result.words], "marks": result.marks}, indent=1).encode("utf-8"), mode=0o644)
    summary = {
        "output": str(args.output), "voice": args.voice, "mark_id": f"{result.mark_id:08x}",
        "duration_s": round(len(result.audio) / result.sample_rate, 3), "sample_rate": result.sample_rate,
        "ledger_seq": result.provenance["seq"], "marks": result.marks,
    }
    show(summary, args.json, f"wrote {args.output} ({summary['duration_s']} s, mark {summary['mark_id']})")
    return EXIT_OK


def _say_text(args: argparse.Namespace) -> str:
    if (args.text is None) == (args.ssml is None):
        raise BadInput("give the text to speak or --ssml, not both and not neither")
    if args.ssml is None:
        return sys.stdin.read() if args.text == "-" else args.text
    if args.ssml.lstrip().startswith("<"):
        return args.ssml
    try:
        return Path(args.ssml).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise BadInput(f"--ssml {args.ssml!r} is neither markup nor a readable UTF-8 file ({e.strerror or e})") from e


def _voices(args: argparse.Namespace) -> int:
    s = studio(args)
    rows = [
        {"voice": st.voice_id, "status": st.status, "kind": st.profile.kind if st.profile else None,
         "engine": st.profile.engine if st.profile else None,
         "name": st.profile.display_name if st.profile else None,
         "licence": st.profile.licence if st.profile else None}
        for st in s.registry.statuses_at(s.clock())
    ]
    show(rows, args.json, "\n".join(f"{r['voice']:<20} {r['status']:<9} {r['name'] or ''}" for r in rows))
    return EXIT_OK


def _add_voice(args: argparse.Namespace) -> int:
    profile = studio(args).add_model_voice(args.name, args.coqui, args.licence, args.speaker, args.language)
    model = profile.typed_details
    out = {"voice": profile.voice_id, "folder": model.folder, "sha256": model.sha256, "licence": profile.licence}
    show(out, args.json, f"registered voice {profile.voice_id} ({model.folder})")
    return EXIT_OK


def _download(args: argparse.Namespace) -> int:
    from voicekit.engines.coqui_download import download
    from voicekit.music import musicgen

    if args.name.startswith(musicgen.PREFIX):
        folder, licence = musicgen.download(args.name, studio(args).home / "models", args.accept_licence,
                                            progress=sys.stderr.isatty())
        out = {"name": args.name, "folder": str(folder), "licence": licence}
        show(out, args.json, f"downloaded {args.name} to {folder} (licence: {licence}); use it with:\n"
                             f"voicekit song LYRICS -o song.mp3 --backing {args.name}")
        return EXIT_OK

    model = download(args.name, studio(args).home / "models", accept_licence=args.accept_licence,
                     progress=sys.stderr.isatty())
    out = {"name": model.name, "folder": str(model.folder), "licence": model.licence}
    show(out, args.json, f"downloaded {model.name} to {model.folder} (licence: {model.licence}); register it with:\n"
                         f"voicekit voices add NAME --coqui {model.folder} --licence '{model.licence}'")
    return EXIT_OK


def _lexicon(args: argparse.Namespace) -> int:
    from voicekit.text.lexicon import Lexicon

    stored = Lexicon.load(args.file) if args.lexicon_command == "set" else None
    studio(args).set_lexicon(stored, voice=args.voice)
    out = {"voice": args.voice, "entries": len(stored) if stored else 0}
    where = f"voice {args.voice}" if args.voice else "every voice"
    show(out, args.json, f"lexicon for {where}: {out['entries']} entries" if stored else f"lexicon for {where} removed")
    return EXIT_OK

"""sing: a score (MusicXML, MIDI or voicekit's JSON form) sung to an audio file; song: lyrics (or
a score) made into a whole song, backing, mix and master included."""
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

    song = commands.add_parser("song", help="make a whole song (melody, vocals, backing, mix, master) from lyrics")
    song.add_argument("lyrics", type=Path, nargs="?",
                      help="a lyrics file: [verse], [chorus], [bridge] sections, one line a phrase")
    song.add_argument("-o", "--output", required=True, type=Path, help="the master: .wav, .flac, .mp3 or .m4a")
    song.add_argument("--voice", default="heart", help="heart, joe or profile:ID (its consent must cover singing)")
    song.add_argument("--style", default="pop", help="ballad, pop, folk or lofi (see docs: what each sets)")
    song.add_argument("--score", type=Path, help="a MusicXML score (melody with lyrics, chord symbols or "
                                                 "accompaniment parts) instead of lyrics")
    song.add_argument("--part", help="the score's part to sing (default: the first with lyrics)")
    song.add_argument("--stems", type=Path, metavar="DIR",
                      help="also write each stem (marked), song.mid and song.musicxml into DIR")
    song.add_argument("--stem-format", default="wav", choices=("wav", "flac", "mp3", "m4a"))
    song.add_argument("--seed", type=int, default=0, help="the melody's and the band's choices (default 0)")
    song.add_argument("--harmony", action="store_true", help="add a harmony line a third above in the chorus")
    song.add_argument("--key", help="change the style's key (C, F#, Bb)")
    song.add_argument("--mode", choices=("major", "minor"), help="change the style's mode")
    song.add_argument("--tempo", type=float, metavar="BPM", help="change the style's tempo")
    song.add_argument("--time", dest="metre", choices=("2/4", "3/4", "4/4"), help="change the time signature")
    song.add_argument("--chords", dest="progression", metavar="'I V vi IV'",
                      help="change the progression: Roman numerals or chord names, one per bar")
    song.add_argument("--sample-rate", type=int, default=44100, choices=(44100, 48000))
    song.add_argument("--backing", default="band", metavar="band|musicgen:small|musicgen:DIR",
                      help="what plays under the vocal: the FluidSynth band (default), or a MusicGen model "
                           "(`voicekit models download musicgen:small --accept-licence`, or a model folder)")
    song.add_argument("--json", action="store_true", help="print the result as JSON")
    song.set_defaults(run=_song)


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


def _song(args: argparse.Namespace) -> int:
    import sys

    from tqdm import tqdm

    from voicekit import audio
    from voicekit.errors import SongError

    if (args.lyrics is None) == (args.score is None):
        raise SongError("give a lyrics file or --score (one of them)")
    fmt = audio.format_for(args.output)
    audio.check_output_path(args.output)
    lyrics = None
    if args.lyrics is not None:
        try:
            lyrics = args.lyrics.read_bytes()
        except OSError as e:
            raise SongError(f"cannot read the lyrics {args.lyrics}: {e.strerror}") from None
    with tqdm(total=1, unit="stage", disable=not sys.stderr.isatty(), desc=args.output.name) as bar:
        def progress(stage: str, done: int, total: int) -> None:
            bar.total = total
            bar.set_postfix_str(stage)
            bar.update(done - bar.n)

        result = studio(args).song(lyrics, args.voice, args.style, score=args.score, seed=args.seed, format=fmt,
                                   sample_rate=args.sample_rate, harmony=args.harmony, stems=args.stems is not None,
                                   stem_format=args.stem_format, on_progress=progress, part=args.part,
                                   key=args.key, mode=args.mode, tempo=args.tempo, metre=args.metre,
                                   progression=args.progression, backing=args.backing)
    written = result.save(args.output, args.stems)
    summary = {"output": str(args.output), "voice": args.voice, "mark_id": f"{result.master.mark_id:08x}",
               "ledger_seq": result.master.provenance["seq"], "vocal_mark_id": f"{result.vocal.mark_id:08x}",
               **result.figures, "files": [str(p) for p in written]}
    show(summary, args.json, f"wrote {args.output} ({summary['duration_s']} s, {summary['lufs']} LUFS, "
                             f"{summary['true_peak_dbtp']} dBTP, mark {summary['mark_id']})")
    return EXIT_OK

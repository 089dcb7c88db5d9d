"""audiobook: narrate a book in this process, as a persisted job that a killed run resumes."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from voicekit.cli.common import EXIT_OK, show, studio
from voicekit.errors import BadInput
from voicekit.styles import STYLES


def register(commands) -> None:
    audiobook = commands.add_parser("audiobook", help="narrate a book (.txt, .md, .epub) to an M4B or a zip of MP3s")
    audiobook.add_argument("book", type=Path, nargs="?", help="the book (not with --resume)")
    audiobook.add_argument("-o", "--output", required=True, type=Path, help="OUT.m4b (chapter markers) or OUT.zip")
    audiobook.add_argument("--resume", metavar="JOB",
                           help="finish an interrupted job (its id was printed when it stopped); done chapters are kept")
    audiobook.add_argument("--voice", default="heart")
    audiobook.add_argument("--style", help="speaking style: " + ", ".join(STYLES))
    audiobook.add_argument("--title", help="the book's title (default: from the book)")
    audiobook.add_argument("--json", action="store_true")
    audiobook.set_defaults(run=_audiobook)


def _audiobook(args: argparse.Namespace) -> int:
    """Narrate with a progress bar on a terminal. Chapters are kept under the data folder as they
    finish, so an interrupted or killed run is finished by `--resume JOB`."""
    from tqdm import tqdm

    from voicekit import audio
    from voicekit.audiobook import Narrations

    output = args.output.suffix.lower().lstrip(".")
    if output not in ("m4b", "zip"):
        raise BadInput(f"-o {args.output}: write an .m4b (chapter markers) or a .zip of MP3s")
    if (args.book is None) == (args.resume is None):
        raise BadInput("give a book to narrate, or --resume JOB to finish one; not both and not neither")
    audio.check_output_path(args.output)
    s = studio(args)
    narrations = Narrations(s.home / "audiobooks", s.job_database)
    if args.resume is not None:
        job = narrations.job(args.resume)
        if job.output != output:
            raise BadInput(f"job {job.job_id} makes a .{job.output}; write it to an .{job.output} file")
    else:
        job = _submitted(s, narrations, args, output)
    total = sum(c.words for c in job.chapters)
    with tqdm(total=total, unit="word", disable=not sys.stderr.isatty(), desc=args.output.name) as bar:
        def progress(state) -> None:
            bar.update(state.as_dict()["words_done"] - bar.n)

        try:
            done = narrations.narrate(s, job.job_id, on_progress=progress, workers=2)
        except KeyboardInterrupt:
            print(f"voicekit: interrupted; finish it with: voicekit audiobook --resume {job.job_id} -o {args.output}",
                  file=sys.stderr)
            raise
    _, path = narrations.result(done.job_id)
    audio.write_file(args.output, path.read_bytes())
    view = done.as_dict()
    out = {"output": str(args.output), "job_id": done.job_id, "chapters": view["chapters_total"],
           "words": view["words_total"], "duration_s": view["seconds_done"], "ledger_seq": done.ledger_seq}
    show(out, args.json, f"wrote {args.output}: {out['chapters']} chapters, {out['duration_s']:.0f} s")
    return EXIT_OK


def _submitted(s, narrations, args: argparse.Namespace, output: str):
    from voicekit.books import read_book

    try:
        data = args.book.read_bytes()
    except OSError as e:
        raise BadInput(f"{args.book}: cannot be read ({e.strerror})") from e
    title, chapters = read_book(data, filename=args.book.name)
    s.check_voice(args.voice)
    job = narrations.submit(chapters, args.voice, "cli", s.clock(), output=output, style=args.style,
                            title=args.title or title)
    if sys.stderr.isatty():
        print(f"audiobook job {job.job_id} (if stopped: voicekit audiobook --resume {job.job_id} -o {args.output})",
              file=sys.stderr)
    return job

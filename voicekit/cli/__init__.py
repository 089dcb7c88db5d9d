"""The `voicekit` command: a thin shell over the studio, one module per verb group.

Exit codes come from the error itself (consent.errors): 0 success; 2 bad input (empty text,
unknown format, unreadable file, bad path, over a limit); 3 consent refused (unknown, revoked,
expired, tampered or out-of-scope voice; a refused enrollment or an unusable challenge); 4 the
release gate refused; 5 the ledger does not verify or cannot be appended to; 6 an engine's model
is missing or cannot load; 1 anything else (the signing keys cannot be loaded, for one).
Errors are one line on stderr.

Environment (read here only): VOICEKIT_HOME, the data folder; VOICEKIT_DEVICE, where torch models
(coqui-tts) run, "cpu" (default) or "cuda".
"""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Sequence

from consent.errors import EXIT_ERROR, VoicekitError
from voicekit.cli import audit, books, consent, records, service, singing, speech
from voicekit.cli.common import Parser, fail

VERB_GROUPS = (speech, singing, audit, consent, records, books, service)


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="voicekit", description="Speech synthesis behind consent, a watermark and a gate.")
    parser.add_argument("--home", type=Path, help="data folder (default: VOICEKIT_HOME or the user data dir)")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    for group in VERB_GROUPS:
        group.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except VoicekitError as e:
        return fail(e.exit_code, f"{e.cli_prefix}{e}")
    except KeyboardInterrupt:
        return fail(EXIT_ERROR, "interrupted")


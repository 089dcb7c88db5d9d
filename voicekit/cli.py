"""The `voicekit` command: a thin shell over the studio.

Exit codes: 0 success; 2 bad input (empty text, unknown format, unreadable file, bad path);
3 consent refused (unknown, revoked, expired, tampered or out-of-scope voice; a refused enrollment
or an unusable challenge); 4 the release gate refused;
5 the ledger does not verify or cannot be appended to; 6 an engine's model is missing or cannot
load; 1 anything else (the signing keys cannot be loaded, for one).
Errors are one line on stderr.

Environment (read here only): VOICEKIT_HOME, the data folder; VOICEKIT_DEVICE, where torch models
(coqui-tts) run, "cpu" (default) or "cuda".
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, Sequence

from voicekit.styles import STYLES

EXIT_OK, EXIT_ERROR, EXIT_BAD_INPUT, EXIT_CONSENT, EXIT_GATE, EXIT_LEDGER, EXIT_ENGINE = 0, 1, 2, 3, 4, 5, 6


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, our exit code for bad input
        self.exit(EXIT_BAD_INPUT, f"voicekit: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="voicekit", description="Speech synthesis behind consent, a watermark and a gate.")
    parser.add_argument("--home", type=Path, help="data folder (default: VOICEKIT_HOME or the user data dir)")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    say = commands.add_parser("say", help="speak text to an audio file")
    say.add_argument("text", nargs="?", help="the text to speak; '-' reads standard input")
    say.add_argument("--ssml", metavar="FILE|STRING", help="speak an SSML document (a file, or the markup itself)")
    say.add_argument("--rate", type=float, default=1.0, help="speed factor, 0.5..2 (default 1)")
    say.add_argument("--pitch", type=float, default=0.0, help="pitch change in semitones, -12..12 (default 0)")
    say.add_argument("--style", help="speaking style: " + ", ".join(STYLES) + " (default neutral)")
    say.add_argument("--lexicon", type=Path, metavar="FILE",
                     help="pronunciations for this request: a PLS file (.pls/.xml) or word<TAB>IPA lines")
    say.add_argument("--timings", type=Path, metavar="FILE", help="write word start/end times and marks as JSON")
    say.add_argument("-o", "--output", required=True, type=Path, help="output file: .wav, .flac, .ogg, .mp3, .opus, .aac or .m4a")
    say.add_argument("--voice", default="heart", help="heart, joe, a registered model voice or profile:ID (default heart)")
    say.add_argument("--clone-with", metavar="MODEL_VOICE",
                     help="speak profile:ID with this registered cloning model (XTTS-v2, YourTTS) instead of its fit")
    say.add_argument("--sample-rate", type=int, default=24000, help="output rate in Hz (default 24000)")
    say.add_argument("--json", action="store_true", help="print the result as JSON")

    voices = commands.add_parser("voices", help="list the registered voices (or add a model voice)")
    voices.add_argument("--json", action="store_true")
    voice_commands = voices.add_subparsers(dest="voices_command", parser_class=_Parser)
    add = voice_commands.add_parser("add", help="register a local coqui-tts model folder as a voice")
    add.add_argument("name", help="the new voice's name (lower-case letters, digits, - and _)")
    add.add_argument("--coqui", required=True, type=Path, metavar="FOLDER", help="folder with config.json and the checkpoint")
    add.add_argument("--licence", required=True, help="what the model's weights and training data allow")
    add.add_argument("--speaker", help="built-in speaker of a multi-speaker model")
    add.add_argument("--language", help="language of a multilingual model (e.g. en)")
    add.add_argument("--json", action="store_true")

    models = commands.add_parser("models", help="fetch coqui-tts models (the only command that downloads)")
    model_commands = models.add_subparsers(dest="models_command", required=True, parser_class=_Parser)
    download = model_commands.add_parser("download", help="download a coqui-tts model by name into the data folder")
    download.add_argument("name", help="e.g. tts_models/en/ljspeech/vits or tts_models/multilingual/multi-dataset/xtts_v2")
    download.add_argument("--accept-licence", action="store_true", help="agree to a licence the model requires (XTTS-v2: CPML)")
    download.add_argument("--json", action="store_true")

    detect = commands.add_parser("detect", help="is this file ours? which voice, which record?")
    detect.add_argument("file", type=Path)
    detect.add_argument("--since", help="made after this ISO date or date-time: also match that window's outputs")
    detect.add_argument("--until", help="made before this ISO date or date-time (default: now)")
    detect.add_argument("--json", action="store_true")

    consent = commands.add_parser("consent", help="consent challenges")
    consent_commands = consent.add_subparsers(dest="consent_command", required=True, parser_class=_Parser)
    challenge = consent_commands.add_parser("challenge", help="a phrase for the speaker to read, single-use")
    challenge.add_argument("--name", required=True, help="the full name of the person who will consent")
    challenge.add_argument("--ttl", type=float, default=600, help="seconds the challenge stays valid (default 600)")
    challenge.add_argument("--json", action="store_true")

    enroll = commands.add_parser("enroll", help="enroll a voice from a consent reading and reference recordings")
    enroll.add_argument("references", nargs="+", type=Path, help="reference recordings, 10 s of speech in total")
    enroll.add_argument("--challenge", required=True, help="the challenge id the consent reading answers")
    enroll.add_argument("--consent", required=True, type=Path, help="the recording of the challenge phrase")
    enroll.add_argument("--name", help="the enrolling person's name; must match the challenge's")
    enroll.add_argument("--scope", default="tts", help="comma-separated: tts, sing (default tts)")
    enroll.add_argument("--expires", help="consent expiry, ISO date or time (a date means the end of that day, UTC)")
    enroll.add_argument("--keep-references", action="store_true",
                        help="keep the reference audio, encrypted, for engines that condition on audio")
    enroll.add_argument("--json", action="store_true")

    profiles = commands.add_parser("profiles", help="enrolled voice profiles")
    profile_commands = profiles.add_subparsers(dest="profiles_command", required=True, parser_class=_Parser)
    profile_commands.add_parser("list", help="every enrolled profile and its status").add_argument(
        "--json", action="store_true")
    show = profile_commands.add_parser("show", help="one profile, its consent record and status")
    show.add_argument("profile_id")
    show.add_argument("--json", action="store_true")
    revoke = profile_commands.add_parser("revoke", help="revoke a profile, at once")
    revoke.add_argument("profile_id")
    revoke.add_argument("--reason", default="", help="why (recorded in the ledger)")
    revoke.add_argument("--json", action="store_true")

    keys = commands.add_parser("keys", help="the registry's signing keys")
    key_commands = keys.add_subparsers(dest="keys_command", required=True, parser_class=_Parser)
    key_commands.add_parser("rotate", help="sign with a new key from now on").add_argument(
        "--json", action="store_true")
    key_commands.add_parser("export-public", help="print the public keys, for auditors").add_argument(
        "--json", action="store_true")

    ledger = commands.add_parser("ledger", help="the tamper-evident ledger")
    ledger_commands = ledger.add_subparsers(dest="ledger_command", required=True, parser_class=_Parser)
    verify = ledger_commands.add_parser("verify", help="check the chain, every signature and the registry's witness")
    verify.add_argument("--against", type=Path, metavar="CHECKPOINT",
                        help="a checkpoint kept earlier: check the ledger still holds it, then only what follows")
    verify.add_argument("--json", action="store_true")
    checkpoint = ledger_commands.add_parser("checkpoint", help="a signed checkpoint of the ledger's end, for auditors")
    checkpoint.add_argument("-o", "--output", type=Path, help="write it to this file (default: print it)")
    checkpoint.add_argument("--json", action="store_true")
    ledger_commands.add_parser(
        "repair", help="record every problem found in a signed entry, so that appending can go on").add_argument(
        "--json", action="store_true")

    lexicon = commands.add_parser("lexicon", help="stored pronunciation lexicons, applied to every request")
    lexicon_commands = lexicon.add_subparsers(dest="lexicon_command", required=True, parser_class=_Parser)
    lexicon_set = lexicon_commands.add_parser("set", help="store a lexicon (PLS or word<TAB>IPA), global or a voice's")
    lexicon_set.add_argument("file", type=Path)
    lexicon_set.add_argument("--voice", help="only for this voice (default: every voice)")
    lexicon_set.add_argument("--json", action="store_true")
    lexicon_clear = lexicon_commands.add_parser("clear", help="remove the stored lexicon, global or a voice's")
    lexicon_clear.add_argument("--voice")
    lexicon_clear.add_argument("--json", action="store_true")

    serve = commands.add_parser("serve", help="run the HTTP service (OpenAPI UI at /docs)")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8000, help="port (default 8000)")

    api_keys = commands.add_parser("api-keys", help="keys for the HTTP service")
    api_key_commands = api_keys.add_subparsers(dest="api_keys_command", required=True, parser_class=_Parser)
    create = api_key_commands.add_parser("create", help="a new key; its secret is shown once")
    create.add_argument("--owner", required=True, help="who the key belongs to (voices it enrolls are theirs)")
    create.add_argument("--scopes", required=True, help="comma-separated: speak, enroll, profiles, audit, admin")
    create.add_argument("--rate-limit", type=int, default=600, metavar="PER_MINUTE",
                        help="requests a minute (default 600)")
    create.add_argument("--json", action="store_true")
    api_key_commands.add_parser("list", help="every key (never its secret)").add_argument("--json", action="store_true")
    key_revoke = api_key_commands.add_parser("revoke", help="revoke a key at once")
    key_revoke.add_argument("key_id")
    key_revoke.add_argument("--json", action="store_true")

    audiobook = commands.add_parser("audiobook", help="narrate a book (.txt, .md, .epub) to an M4B or a zip of MP3s")
    audiobook.add_argument("book", type=Path)
    audiobook.add_argument("-o", "--output", required=True, type=Path, help="OUT.m4b (chapter markers) or OUT.zip")
    audiobook.add_argument("--voice", default="heart")
    audiobook.add_argument("--style", help="speaking style: " + ", ".join(STYLES))
    audiobook.add_argument("--title", help="the book's title (default: from the book)")
    audiobook.add_argument("--json", action="store_true")

    demo = commands.add_parser("demo", help="render, mark, gate and detect a sentence in each house voice")
    demo.add_argument("--out", type=Path, default=Path("demo-out"), help="folder for the demo files")
    demo.add_argument("--json", action="store_true")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from consent.errors import ConsentError, KeyStoreError, LedgerCorrupt
    from detection.errors import GateRefused, UnreadableAudio, WindowTooWide
    from voicekit.errors import BadInput, EngineUnavailable

    try:
        return _run(args)
    except (BadInput, UnreadableAudio, WindowTooWide) as e:
        return _fail(EXIT_BAD_INPUT, str(e))
    except LedgerCorrupt as e:
        return _fail(EXIT_LEDGER, f"ledger: {e}")
    except KeyStoreError as e:  # a wrong passphrase or an untrusted key is no consent decision
        return _fail(EXIT_ERROR, f"signing keys: {e}")
    except ConsentError as e:
        return _fail(EXIT_CONSENT, f"consent refused: {e}")
    except GateRefused as e:
        return _fail(EXIT_GATE, f"release gate refused the audio: {e}")
    except EngineUnavailable as e:
        return _fail(EXIT_ENGINE, f"engine: {e}")
    except KeyboardInterrupt:
        return _fail(EXIT_ERROR, "interrupted")


def _run(args: argparse.Namespace) -> int:
    if args.command == "say":
        text = _say_text(args)
        from voicekit import audio

        from voicekit.text.lexicon import Lexicon

        fmt = audio.format_for(args.output)
        audio.check_output_path(args.output)
        if args.timings is not None:
            audio.check_output_path(args.timings)
        lexicon = Lexicon.load(args.lexicon) if args.lexicon is not None else None
        studio = _studio(args)
        result = studio.speak(text, voice=args.voice, sample_rate=args.sample_rate, format=fmt,
                              clone_with=args.clone_with, ssml=args.ssml is not None, rate=args.rate, pitch=args.pitch,
                              style=args.style, lexicon=lexicon, word_timings=args.timings is not None)
        result.save(args.output)
        if args.timings is not None:
            from consent.atomic import atomic_write

            atomic_write(args.timings, json.dumps({
                "audio": args.output.name, "mark_id": f"{result.mark_id:08x}",
                "words": [w.as_dict() for w in result.words], "marks": result.marks}, indent=1).encode("utf-8"), mode=0o644)
        summary = {
            "output": str(args.output), "voice": args.voice, "mark_id": f"{result.mark_id:08x}",
            "duration_s": round(len(result.audio) / result.sample_rate, 3), "sample_rate": result.sample_rate,
            "ledger_seq": result.provenance["seq"], "marks": result.marks,
        }
        _print(summary, args.json, f"wrote {args.output} ({summary['duration_s']} s, mark {summary['mark_id']})")
        return EXIT_OK

    if args.command == "serve":
        return _serve(args)
    if args.command == "audiobook":
        return _audiobook(args)
    studio = _studio(args)
    if args.command == "api-keys":
        return _api_keys(studio, args)
    if args.command == "lexicon":
        from voicekit.text.lexicon import Lexicon

        stored = Lexicon.load(args.file) if args.lexicon_command == "set" else None
        studio.set_lexicon(stored, voice=args.voice)
        out = {"voice": args.voice, "entries": len(stored) if stored else 0}
        where = f"voice {args.voice}" if args.voice else "every voice"
        _print(out, args.json,
               f"lexicon for {where}: {out['entries']} entries" if stored else f"lexicon for {where} removed")
        return EXIT_OK
    if args.command == "voices" and args.voices_command == "add":
        profile = studio.add_model_voice(args.name, args.coqui, args.licence, args.speaker, args.language)
        model = profile.details["coqui"]
        out = {"voice": profile.voice_id, "folder": model["folder"], "sha256": model["sha256"], "licence": profile.licence}
        _print(out, args.json, f"registered voice {profile.voice_id} ({model['folder']})")
        return EXIT_OK
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
        since = None if args.since is None else _parse_time(args.since, "--since")
        until = None if args.until is None else _parse_time(args.until, "--until", end_of_day=True)
        finding = studio.detect(args.file, since=since, until=until).as_dict()
        verdict = "watermarked" if finding["watermarked"] else "not watermarked"
        extra = f", mark {finding['mark_id']}, voice {finding['provenance']['voice']}" if finding["provenance"] else ""
        _print(finding, args.json, f"{args.file}: {verdict} (p={finding['p_value']:.3g}){extra}")
        return EXIT_OK
    if args.command == "consent":
        challenge = studio.consent_challenge(args.name, ttl_s=args.ttl)
        out = {"challenge_id": challenge.challenge_id, "phrase": challenge.phrase,
               "expires_at": _iso(challenge.expires_at)}
        _print(out, args.json, f"challenge {out['challenge_id']} (valid until {out['expires_at']}); read aloud:\n"
                               f"{challenge.phrase}")
        return EXIT_OK
    if args.command == "enroll":
        profile = studio.enroll(
            args.challenge, args.consent, args.references, scopes=_scopes(args.scope),
            expires_at=_parse_expiry(args.expires), name=args.name, keep_references=args.keep_references,
        )
        out = {"profile_id": profile.voice_id, "name": profile.display_name, "scopes": list(profile.scopes),
               "expires_at": _iso(profile.expires_at)}
        _print(out, args.json, f"enrolled {profile.voice_id} for {profile.display_name}")
        return EXIT_OK
    if args.command == "profiles":
        return _profiles(studio, args)
    if args.command == "models":
        from voicekit.engines.coqui_download import download

        model = download(args.name, studio.home / "models", accept_licence=args.accept_licence,
                         progress=sys.stderr.isatty())
        out = {"name": model.name, "folder": str(model.folder), "licence": model.licence}
        _print(out, args.json, f"downloaded {model.name} to {model.folder} (licence: {model.licence}); register it with:\n"
                               f"voicekit voices add NAME --coqui {model.folder} --licence '{model.licence}'")
        return EXIT_OK
    if args.command == "keys":
        if args.keys_command == "rotate":
            kid = studio.rotate_keys()
            _print({"key_id": kid}, args.json, f"new signing key {kid}")
        else:
            pems = studio.keys.public_pem()
            rows = [{"key_id": kid, "algorithm": "Ed25519", "current": kid == studio.keys.current_key_id,
                     "trusted": True, "public_key_hex": hexkey, "pem": pems[kid]}
                    for kid, hexkey in studio.keys.public_keys().items()]
            untrusted = [{"key_id": kid, "algorithm": "Ed25519", "current": False, "trusted": False,
                          "public_key_hex": studio.keys.public_keys_on_disk()[kid]} for kid in studio.keys.untrusted()]
            _print(rows + untrusted, args.json, "".join(
                f"# key {r['key_id']}{' (current)' if r['current'] else ''}\n{r['pem']}" for r in rows).rstrip() + "".join(
                f"\n# WARNING: key {r['key_id']} is in the key folder but no trusted key introduced it; "
                "it verifies nothing" for r in untrusted))
        return EXIT_OK
    if args.command == "ledger":
        return _ledger(studio, args)
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


def _say_text(args: argparse.Namespace) -> str:
    from voicekit.errors import BadInput

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


def _studio(args: argparse.Namespace):
    import os

    from voicekit.studio import Studio

    return Studio(home=args.home, device=os.environ.get("VOICEKIT_DEVICE", "cpu"))


def _profiles(studio, args: argparse.Namespace) -> int:
    now = studio.clock()
    if args.profiles_command == "list":
        rows = [_profile_row(s) for s in studio.registry.statuses_at(now) if s.voice_id.startswith("profile:")]
        _print(rows, args.json, "\n".join(f"{r['profile_id']:<22} {r['status']:<9} {r['name'] or ''}" for r in rows)
               or "no enrolled profiles")
        return EXIT_OK
    voice_id = args.profile_id if args.profile_id.startswith("profile:") else f"profile:{args.profile_id}"
    if args.profiles_command == "revoke":
        studio.revoke(voice_id, args.reason)
    status = studio.registry.status_at(voice_id, studio.clock())
    row = _profile_row(status)
    if args.profiles_command == "show" and status.profile is not None:
        row["details"] = status.profile.details
    text = "\n".join(f"{k}: {v}" for k, v in row.items() if k != "details")
    _print(row, args.json, f"revoked {voice_id}" if args.profiles_command == "revoke" else text)
    return EXIT_OK


def _serve(args: argparse.Namespace) -> int:
    """Run the service with uvicorn. The app is named by its import string (the `api` package sits
    above this one, so nothing here imports it); it reads VOICEKIT_HOME like every command."""
    import os

    import uvicorn

    if args.home is not None:
        os.environ["VOICEKIT_HOME"] = str(args.home)
    uvicorn.run("api.main:create_app", factory=True, host=args.host, port=args.port, log_level="info")
    return EXIT_OK


def _ledger(studio, args: argparse.Namespace) -> int:
    if args.ledger_command == "checkpoint":
        if args.output is not None:
            from voicekit import audio

            audio.check_output_path(args.output)
        checkpoint = studio.ledger.checkpoint(studio.clock())
        data = json.dumps(checkpoint, indent=1).encode("utf-8")
        if args.output is not None:
            from consent.atomic import atomic_write

            atomic_write(args.output, data, mode=0o644)
        _print(checkpoint, args.json, data.decode() if args.output is None else
               f"checkpoint of entry {checkpoint['seq']} written to {args.output}")
        return EXIT_OK
    if args.ledger_command == "repair":
        entry = studio.ledger.repair(studio.clock())
        if entry is None:
            _print({"repaired": False, "problems": []}, args.json, "the ledger verifies: nothing to repair")
        else:
            _print({"repaired": True, "entry": entry.seq, "problems": entry.body["problems"]}, args.json,
                   "\n".join([f"recorded {len(entry.body['problems'])} problems in repair entry {entry.seq}:"]
                             + entry.body["problems"]))
        return EXIT_OK
    from voicekit.errors import BadInput

    against = None
    if args.against is not None:
        try:
            against = json.loads(args.against.read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            raise BadInput(f"cannot read the checkpoint {args.against}: {e}") from e
    report = studio.ledger.verify(against=against)
    since = f" (from checkpoint entry {report.checked_from - 1})" if against is not None else ""
    lines = ([f"ledger {'ok' if report.ok else 'BROKEN'}: {report.entries} entries{since}"] + report.problems
             + [f"repaired: {p}" for p in report.repaired]
             + [f"untrusted key in the key folder (verifies nothing): {k}" for k in report.untrusted_keys])
    _print(report.as_dict(), args.json, "\n".join(lines))
    return EXIT_OK if report.ok else EXIT_LEDGER


def _api_keys(studio, args: argparse.Namespace) -> int:
    from consent.access import AccessControl
    from voicekit.errors import BadInput

    access = AccessControl(studio.home / "registry.db", studio.ledger)
    if args.api_keys_command == "create":
        try:
            key, secret = access.create_key(args.owner, _scopes(args.scopes), studio.clock(), args.rate_limit)
        except ValueError as e:
            raise BadInput(str(e)) from e
        _print(key.as_dict() | {"key": secret}, args.json,
               f"key {key.key_id} for {key.owner} ({', '.join(key.scopes)}); shown once, keep it:\n{secret}")
    elif args.api_keys_command == "list":
        rows = [k.as_dict() for k in access.keys()]
        _print(rows, args.json, "\n".join(
            f"{r['key_id']}  {r['owner']:<20} {','.join(r['scopes']):<30} {'revoked' if r['revoked_at'] else 'active'}"
            for r in rows) or "no API keys")
    else:
        access.revoke_key(args.key_id, studio.clock())
        _print(access.key(args.key_id).as_dict(), args.json, f"revoked API key {args.key_id}")
    return EXIT_OK


def _audiobook(args: argparse.Namespace) -> int:
    """Narrate in this process, as a persisted job (an interrupted run's chapters stay under the
    data folder), with a progress bar on a terminal."""
    from tqdm import tqdm

    from voicekit import audio
    from voicekit.audiobook import Narrations
    from voicekit.books import read_book
    from voicekit.errors import BadInput

    output = args.output.suffix.lower().lstrip(".")
    if output not in ("m4b", "zip"):
        raise BadInput(f"-o {args.output}: write an .m4b (chapter markers) or a .zip of MP3s")
    audio.check_output_path(args.output)
    try:
        data = args.book.read_bytes()
    except OSError as e:
        raise BadInput(f"{args.book}: cannot be read ({e.strerror})") from e
    title, chapters = read_book(data, filename=args.book.name)
    studio = _studio(args)
    studio.registry.check_at(args.voice, now=studio.clock(), scope="tts")
    narrations = Narrations(studio.home / "audiobooks")
    job = narrations.submit(chapters, args.voice, "cli", studio.clock(), output=output, style=args.style,
                            title=args.title or title)
    with tqdm(total=sum(c.words for c in chapters), unit="word", disable=not sys.stderr.isatty(),
              desc=args.book.name) as bar:
        def progress(state) -> None:
            bar.update(state.as_dict()["words_done"] - bar.n)

        try:
            done = narrations.narrate(studio, job.job_id, on_progress=progress, workers=2)
        except KeyboardInterrupt:
            narrations.cancel(job.job_id, studio.clock())
            raise
    _, path = narrations.result(done.job_id)
    audio.write_file(args.output, path.read_bytes())
    view = done.as_dict()
    out = {"output": str(args.output), "job_id": done.job_id, "chapters": view["chapters_total"],
           "words": view["words_total"], "duration_s": view["seconds_done"], "ledger_seq": done.ledger_seq}
    _print(out, args.json, f"wrote {args.output}: {out['chapters']} chapters, {out['duration_s']:.0f} s")
    return EXIT_OK


def _profile_row(status) -> dict[str, Any]:
    profile = status.profile
    return {
        "profile_id": status.voice_id, "status": status.status, "detail": status.detail,
        "name": profile.display_name if profile else None,
        "scopes": list(profile.scopes) if profile else None,
        "created_at": _iso(profile.created_at) if profile else None,
        "expires_at": _iso(profile.expires_at) if profile else None,
    }


def _scopes(text: str) -> tuple[str, ...]:
    return tuple(s.strip() for s in text.split(",") if s.strip())


def _parse_expiry(text: str | None) -> float | None:
    """ISO date (the end of that day, UTC) or date-time (UTC unless it names a zone) -> Unix seconds."""
    return None if text is None else _parse_time(text, "--expires", end_of_day=True)


def _parse_time(text: str, flag: str, end_of_day: bool = False) -> float:
    """ISO date (its start, or with end_of_day its end, UTC) or date-time (UTC unless it names a
    zone) -> Unix seconds; BadInput naming `flag` otherwise."""
    from datetime import date, datetime, time, timedelta, timezone

    from voicekit.errors import BadInput

    try:
        if len(text) == 10:
            day = date.fromisoformat(text) + timedelta(days=1 if end_of_day else 0)
            return datetime.combine(day, time(), timezone.utc).timestamp()
        moment = datetime.fromisoformat(text)
    except ValueError as e:
        raise BadInput(f"{flag} {text!r} is not an ISO date (2027-01-31) or date-time") from e
    return (moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)).timestamp()


def _iso(seconds: float | None) -> str | None:
    from datetime import datetime, timezone

    if seconds is None:
        return None
    return datetime.fromtimestamp(seconds, timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


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

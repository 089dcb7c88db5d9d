"""consent challenge, enroll and profiles: who may be spoken."""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from consent.profiles import PROFILE_PREFIX
from voicekit.cli.common import EXIT_OK, iso, parse_time, scopes, show, studio


def register(commands) -> None:
    consent = commands.add_parser("consent", help="consent challenges")
    consent_commands = consent.add_subparsers(dest="consent_command", required=True, parser_class=type(consent))
    challenge = consent_commands.add_parser("challenge", help="a phrase for the speaker to read, single-use")
    challenge.add_argument("--name", required=True, help="the full name of the person who will consent")
    challenge.add_argument("--ttl", type=float, default=600, help="seconds the challenge stays valid (default 600)")
    challenge.add_argument("--json", action="store_true")
    challenge.set_defaults(run=_challenge)

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
    enroll.set_defaults(run=_enroll)

    profiles = commands.add_parser("profiles", help="enrolled voice profiles")
    profile_commands = profiles.add_subparsers(dest="profiles_command", required=True, parser_class=type(profiles))
    listing = profile_commands.add_parser("list", help="every enrolled profile and its status")
    listing.add_argument("--json", action="store_true")
    show_one = profile_commands.add_parser("show", help="one profile, its consent record and status")
    show_one.add_argument("profile_id")
    show_one.add_argument("--json", action="store_true")
    revoke = profile_commands.add_parser("revoke", help="revoke a profile, at once")
    revoke.add_argument("profile_id")
    revoke.add_argument("--reason", default="", help="why (recorded in the ledger)")
    revoke.add_argument("--json", action="store_true")
    for parser in (listing, show_one, revoke):
        parser.set_defaults(run=_profiles)


def _challenge(args: argparse.Namespace) -> int:
    challenge = studio(args).consent_challenge(args.name, ttl_s=args.ttl)
    out = {"challenge_id": challenge.challenge_id, "phrase": challenge.phrase, "expires_at": iso(challenge.expires_at)}
    show(out, args.json, f"challenge {out['challenge_id']} (valid until {out['expires_at']}); read aloud:\n"
                         f"{challenge.phrase}")
    return EXIT_OK


def _enroll(args: argparse.Namespace) -> int:
    expires = None if args.expires is None else parse_time(args.expires, "--expires", end_of_day=True)
    profile = studio(args).enroll(args.challenge, args.consent, args.references, scopes=scopes(args.scope),
                                  expires_at=expires, name=args.name, keep_references=args.keep_references)
    out = {"profile_id": profile.voice_id, "name": profile.display_name, "scopes": list(profile.scopes),
           "expires_at": iso(profile.expires_at)}
    show(out, args.json, f"enrolled {profile.voice_id} for {profile.display_name}")
    return EXIT_OK


def _profiles(args: argparse.Namespace) -> int:
    s = studio(args)
    now = s.clock()
    if args.profiles_command == "list":
        rows = [_row(st) for st in s.registry.statuses_at(now) if st.voice_id.startswith(PROFILE_PREFIX)]
        show(rows, args.json, "\n".join(f"{r['profile_id']:<22} {r['status']:<9} {r['name'] or ''}" for r in rows)
             or "no enrolled profiles")
        return EXIT_OK
    voice_id = args.profile_id if args.profile_id.startswith(PROFILE_PREFIX) else f"{PROFILE_PREFIX}{args.profile_id}"
    if args.profiles_command == "revoke":
        s.revoke(voice_id, args.reason)
    status = s.registry.status_at(voice_id, s.clock())
    row = _row(status)
    if args.profiles_command == "show" and status.profile is not None:
        row["details"] = status.profile.details
    text = "\n".join(f"{k}: {v}" for k, v in row.items() if k != "details")
    show(row, args.json, f"revoked {voice_id}" if args.profiles_command == "revoke" else text)
    return EXIT_OK


def _row(status) -> dict[str, Any]:
    profile = status.profile
    return {
        "profile_id": status.voice_id, "status": status.status, "detail": status.detail,
        "name": profile.display_name if profile else None,
        "scopes": list(profile.scopes) if profile else None,
        "created_at": iso(profile.created_at) if profile else None,
        "expires_at": iso(profile.expires_at) if profile else None,
    }

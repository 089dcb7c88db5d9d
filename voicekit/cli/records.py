"""keys, ledger and api-keys: the records that make every decision checkable."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from consent.errors import EXIT_LEDGER
from voicekit.cli.common import EXIT_OK, scopes, show, studio
from voicekit.errors import BadInput


def register(commands) -> None:
    keys = commands.add_parser("keys", help="the registry's signing keys")
    key_commands = keys.add_subparsers(dest="keys_command", required=True, parser_class=type(keys))
    rotate = key_commands.add_parser("rotate", help="sign with a new key from now on")
    rotate.add_argument("--json", action="store_true")
    rotate.set_defaults(run=_rotate)
    export = key_commands.add_parser("export-public", help="print the public keys, for auditors")
    export.add_argument("--json", action="store_true")
    export.set_defaults(run=_export_public)

    ledger = commands.add_parser("ledger", help="the tamper-evident ledger")
    ledger_commands = ledger.add_subparsers(dest="ledger_command", required=True, parser_class=type(ledger))
    verify = ledger_commands.add_parser("verify", help="check the chain, every signature and the registry's witness")
    verify.add_argument("--against", type=Path, metavar="CHECKPOINT",
                        help="a checkpoint kept earlier: check the ledger still holds it, then only what follows")
    verify.add_argument("--json", action="store_true")
    verify.set_defaults(run=_verify)
    checkpoint = ledger_commands.add_parser("checkpoint", help="a signed checkpoint of the ledger's end, for auditors")
    checkpoint.add_argument("-o", "--output", type=Path, help="write it to this file (default: print it)")
    checkpoint.add_argument("--json", action="store_true")
    checkpoint.set_defaults(run=_checkpoint)
    repair = ledger_commands.add_parser(
        "repair", help="record every problem found in a signed entry, so that appending can go on")
    repair.add_argument("--json", action="store_true")
    repair.set_defaults(run=_repair)

    db = commands.add_parser("db", help="the records' database server (VOICEKIT_DATABASE_URL)")
    db_commands = db.add_subparsers(dest="db_command", required=True, parser_class=type(db))
    upgrade = db_commands.add_parser("upgrade", help="migrate the server's schema to this version's")
    status = db_commands.add_parser("status", help="the server's schema revision and this version's")
    for parser in (upgrade, status):
        parser.add_argument("--url", help="the server (default: VOICEKIT_DATABASE_URL)")
        parser.add_argument("--json", action="store_true")
        parser.set_defaults(run=_db)

    api_keys = commands.add_parser("api-keys", help="keys for the HTTP service")
    api_key_commands = api_keys.add_subparsers(dest="api_keys_command", required=True, parser_class=type(api_keys))
    create = api_key_commands.add_parser("create", help="a new key; its secret is shown once")
    create.add_argument("--owner", required=True, help="who the key belongs to (voices it enrolls are theirs)")
    create.add_argument("--scopes", required=True, help="comma-separated: speak, enroll, profiles, audit, admin")
    create.add_argument("--rate-limit", type=int, default=600, metavar="PER_MINUTE",
                        help="requests a minute (default 600)")
    create.add_argument("--json", action="store_true")
    listing = api_key_commands.add_parser("list", help="every key (never its secret)")
    listing.add_argument("--json", action="store_true")
    key_revoke = api_key_commands.add_parser("revoke", help="revoke a key at once")
    key_revoke.add_argument("key_id")
    key_revoke.add_argument("--json", action="store_true")
    for parser in (create, listing, key_revoke):
        parser.set_defaults(run=_api_keys)


def _db(args: argparse.Namespace) -> int:
    """Runs without opening the records: on an unmigrated server they cannot be opened."""
    from consent.database import DATABASE_URL_ENV, Database, database_url
    from consent.errors import BadInput
    from consent.migrations import current_revision, head_revision, upgrade

    url = args.url or database_url()
    if url is None:
        raise BadInput(f"no database server: set {DATABASE_URL_ENV} or pass --url (the home's own SQLite "
                       "files need no migrating)")
    database = Database(url)
    if args.db_command == "upgrade":
        before, after = upgrade(database)
        show({"database": database.name, "from": before, "to": after}, args.json,
             f"{database.name}: schema {before or 'none'} -> {after}" if before != after
             else f"{database.name}: schema already at {after}")
        return EXIT_OK
    current, head = current_revision(database), head_revision()
    show({"database": database.name, "current": current, "head": head, "up_to_date": current == head}, args.json,
         f"{database.name}: schema {current or 'none'}; this version needs {head}"
         + ("" if current == head else " (run `voicekit db upgrade`)"))
    return EXIT_OK


def _rotate(args: argparse.Namespace) -> int:
    kid = studio(args).rotate_keys()
    show({"key_id": kid}, args.json, f"new signing key {kid}")
    return EXIT_OK


def _export_public(args: argparse.Namespace) -> int:
    running = studio(args)
    keys, root = running.keys, running.credentials
    pems = keys.public_pem()
    rows = [{"kind": "registry-key", "key_id": kid, "algorithm": "Ed25519", "current": kid == keys.current_key_id,
             "trusted": True, "public_key_hex": hexkey, "pem": pems[kid]}
            for kid, hexkey in keys.public_keys().items()]
    untrusted = [{"kind": "registry-key", "key_id": kid, "algorithm": "Ed25519", "current": False, "trusted": False,
                  "public_key_hex": keys.public_keys_on_disk()[kid]} for kid in keys.untrusted()]
    c2pa_root = {"kind": "c2pa-root", "key_id": f"c2pa-root:{root.root_fingerprint[:16]}",
                 "algorithm": "ECDSA P-256 X.509 certificate", "current": True, "trusted": True, "sha256_fingerprint": root.root_fingerprint,
                 "pem": root.root_pem.decode()}
    show(rows + [c2pa_root] + untrusted, args.json, "".join(
        f"# key {r['key_id']}{' (current)' if r['current'] else ''}\n{r['pem']}" for r in rows).rstrip()
        + f"\n# C2PA root certificate (trust it to validate Content Credentials), SHA-256 "
          f"{root.root_fingerprint}\n{c2pa_root['pem']}".rstrip() + "".join(
        f"\n# WARNING: key {r['key_id']} is in the key folder but no trusted key introduced it; "
        "it verifies nothing" for r in untrusted))
    return EXIT_OK


def _checkpoint(args: argparse.Namespace) -> int:
    from consent.atomic import atomic_write
    from voicekit import audio

    if args.output is not None:
        audio.check_output_path(args.output)
    s = studio(args)
    checkpoint = s.ledger.checkpoint(s.clock())
    data = json.dumps(checkpoint, indent=1).encode("utf-8")
    if args.output is not None:
        atomic_write(args.output, data, mode=0o644)
    show(checkpoint, args.json, data.decode() if args.output is None else
         f"checkpoint of entry {checkpoint['seq']} written to {args.output}")
    return EXIT_OK


def _repair(args: argparse.Namespace) -> int:
    s = studio(args)
    entry = s.ledger.repair(s.clock())
    if entry is None:
        show({"repaired": False, "problems": []}, args.json, "the ledger verifies: nothing to repair")
    else:
        show({"repaired": True, "entry": entry.seq, "problems": entry.body["problems"]}, args.json,
             "\n".join([f"recorded {len(entry.body['problems'])} problems in repair entry {entry.seq}:"]
                       + entry.body["problems"]))
    return EXIT_OK


def _verify(args: argparse.Namespace) -> int:
    against = None
    if args.against is not None:
        try:
            against = json.loads(args.against.read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            raise BadInput(f"cannot read the checkpoint {args.against}: {e}") from e
    report = studio(args).ledger.verify(against=against)
    since = f" (from checkpoint entry {report.checked_from - 1})" if against is not None else ""
    lines = ([f"ledger {'ok' if report.ok else 'BROKEN'}: {report.entries} entries{since}"] + report.problems
             + [f"repaired: {p}" for p in report.repaired]
             + [f"untrusted key in the key folder (verifies nothing): {k}" for k in report.untrusted_keys])
    show(report.as_dict(), args.json, "\n".join(lines))
    return EXIT_OK if report.ok else EXIT_LEDGER


def _api_keys(args: argparse.Namespace) -> int:
    from consent.access import AccessControl

    s = studio(args)
    access = AccessControl(s.registry.db, s.ledger)
    if args.api_keys_command == "create":
        key, secret = access.create_key(args.owner, scopes(args.scopes), s.clock(), args.rate_limit)
        show(key.as_dict() | {"key": secret}, args.json,
             f"key {key.key_id} for {key.owner} ({', '.join(key.scopes)}); shown once, keep it:\n{secret}")
    elif args.api_keys_command == "list":
        rows = [k.as_dict() for k in access.keys()]
        show(rows, args.json, "\n".join(
            f"{r['key_id']}  {r['owner']:<20} {','.join(r['scopes']):<30} {'revoked' if r['revoked_at'] else 'active'}"
            for r in rows) or "no API keys")
    else:
        access.revoke_key(args.key_id, s.clock())
        show(access.key(args.key_id).as_dict(), args.json, f"revoked API key {args.key_id}")
    return EXIT_OK

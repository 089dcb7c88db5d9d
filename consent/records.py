"""Opening a home's records together: keys, trust, the ledger and the registry, in the one order
in which each can vouch for the next.

    keys (files, or the server's table) -> trusted keys (pinned in the registry db) -> ledger (signed by trusted keys,
    witnessed in the registry db) -> registry (records decided by the ledger)

The ledger and the registry are two SQLite files under the home, or both one database server's
(`url`, from VOICEKIT_DATABASE_URL): then every process of a fleet shares them and the signing
keys (encrypted, when VOICEKIT_KEY_PASSPHRASE is set), and the ledger's
witness is a table beside it rather than a file apart (an operator restoring an old copy of the
server restores both; keep auditors' checkpoints, which `ledger verify --against` checks).

A new home pins its first key and opens the ledger with a `genesis` entry naming it. The home's
folders are private (0700) and its databases 0600: they hold every enrolled person's speaker
embedding and the signed records behind every consent.
"""
from __future__ import annotations

import fcntl
import os
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

from consent.database import Database, database_url
from consent.errors import KeyStoreError
from consent.keys import RegistryKeys
from consent.keystores import DatabaseKeyStore
from consent.ledger import Ledger, LedgerEntry
from consent.profiles import VoiceProfile
from consent.registry import LedgerWitness, Registry
from consent.trust import TrustStore


@dataclass
class Records:
    keys: RegistryKeys
    trust: TrustStore
    ledger: Ledger
    registry: Registry

    @classmethod
    def open(cls, home: Path, passphrase: bytes | None, now: float,
             house: Sequence[VoiceProfile] = (), url: str | None = None) -> "Records":
        """Open (creating on first use) the records under `home`, registering the `house` voices
        not registered yet. Raises KeyStoreError when the signing key is not one the pinned root
        introduced; a damaged ledger opens, but refuses appends (LedgerBroken) until it is
        repaired. Processes opening one home (or one server) at once take turns (a lock file, and
        the server's advisory lock), so a new home gets one root and one genesis entry. url: the
        database server (default: VOICEKIT_DATABASE_URL; neither: the home's SQLite files); raises
        DatabaseUnavailable when it cannot be reached or is not migrated to this version
        (`voicekit db upgrade`)."""
        home = private_folder(home)
        url = url or database_url()
        server = None if url is None else Database(url)
        registry_db = server or Database.file(home / "registry.db")
        with _exclusive(home / "records.lock"), registry_db.exclusive("voicekit records open"):
            keys = RegistryKeys.open(_key_store(home, server, passphrase), passphrase)
            trust = TrustStore(registry_db)
            ledger = Ledger(server or private_folder(home / "ledger"), keys, LedgerWitness(registry_db, keys))
            legacy = False
            if trust.empty():
                legacy = _pin(keys, trust, ledger, now)
            else:
                trust.establish(keys)
            registry = Registry(registry_db, keys, ledger)
            if legacy:
                registry.adopt_unrecorded(now)
            registry.ensure(list(house), now=now)
        keys.refresh = lambda: trust.establish(keys, require_current=False)
        return cls(keys, trust, ledger, registry)

    def follow_rotation(self) -> bool:
        """Take up a rotation another process made since this one opened (the CLI beside a running
        server): trust what the trust table now says, then sign with the new current key. Returns
        whether the signing key changed; raises KeyStoreError if `current` names an untrusted key."""
        self.trust.establish(self.keys, require_current=False)
        return self.keys.reload_current()

    def rotate_keys(self, now: float) -> str:
        """Make a new signing key, introduced by the current one (in the trust table and a
        `key-rotation` entry it signs), then sign with it; returns its id."""
        previous = self.keys.current_key_id
        kid = self.keys.new_key()
        self.trust.introduce(self.keys, kid, now)
        self.keys.trust(kid)
        self.ledger.append("key-rotation", {
            "key_id": kid, "previous_key_id": previous, "public_key": self.keys.public_key_hex(kid),
        }, now=now, subject=f"key {kid}")
        self.keys.make_current(kid)
        return kid


def _key_store(home: Path, server: Database | None, passphrase: bytes | None) -> Path | DatabaseKeyStore:
    """The server's table when there is a server and a passphrase to encrypt the keys with (every
    machine then signs with one key, and a rotation reaches them all); else the home's key folder
    (on a fleet without a passphrase, a key file the operator copies to each machine)."""
    if server is not None and passphrase:
        return DatabaseKeyStore(server, passphrase, folder=home / "keys")
    return home / "keys"


def _pin(keys: RegistryKeys, trust: TrustStore, ledger: Ledger, now: float) -> bool:
    """Pin the root of a home with no trusted keys yet; True for a home written before trust was
    pinned (its registry's records then need ledger entries of their own).

    A new home: the current key, and a genesis entry. A home written before trust was pinned (its
    ledger imported from entries.jsonl): the key that signed its first entry is the root and the
    other keys whose private parts it holds are introduced by it. A registry replaced under an
    existing ledger: the genesis entry and the rotations after it say which keys were trusted (the
    missing witness keeps the ledger refusing appends until it is repaired).
    """
    head = ledger.head()
    if head is None:
        root = keys.current_key_id
        trust.pin_root(keys, root, now)
        keys.set_trusted({root})
        ledger.append("genesis", {"root_key_id": root, "public_key": keys.public_key_hex(root)}, now=now,
                      subject=f"key {root}")
        return False
    first = ledger.entry(0)
    if first is not None and first.kind == "genesis":
        _pin_from_ledger(keys, trust, ledger, first)
        return False
    held = keys.trusted()  # before pinning: the keys whose private part is on disk
    root = first.signature.key_id if first is not None and first.signature.key_id in held else keys.current_key_id
    trust.pin_root(keys, root, now)
    keys.set_trusted({root}, require_current=False)
    for kid in sorted(held - {root}):
        trust.introduce(keys, kid, now, by=root)
    trust.establish(keys)
    ledger.append("trust-pinned", {"root_key_id": root, "introduced": sorted(held - {root})}, now=now)
    return True


def _pin_from_ledger(keys: RegistryKeys, trust: TrustStore, ledger: Ledger, genesis: LedgerEntry) -> None:
    root = genesis.body["root_key_id"]
    if keys.public_keys_on_disk().get(root) != genesis.body.get("public_key"):
        raise KeyStoreError(f"the ledger's genesis pins key {root}, which the key folder does not hold")
    trust.pin_root(keys, root, genesis.time)
    keys.set_trusted({root}, require_current=False)
    for rotation in ledger.by_kind("key-rotation"):
        rotation.check(keys)  # signed by a key trusted so far
        kid = rotation.body["key_id"]
        if keys.public_keys_on_disk().get(kid) == rotation.body.get("public_key"):
            trust.introduce(keys, kid, rotation.time, by=rotation.signature.key_id)
            keys.trust(kid)
    trust.establish(keys)


@contextmanager
def _exclusive(path: Path) -> Iterator[None]:
    fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def private_folder(path: Path) -> Path:
    """`path` created if missing, and made private to this user (0700)."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    if path.stat().st_mode & 0o077:
        os.chmod(path, 0o700)
    return path

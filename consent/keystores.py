"""Where the registry's private keys are kept: a folder under the home (the default), or a table of
the database server every machine of a fleet shares, so that each worker signs with the same key
and a rotation made on one machine reaches the others at their next request.

A store holds PEM bytes and public keys; it never sees a key in the clear. On a server the PEMs
must be encrypted: `DatabaseKeyStore` refuses to work without a passphrase (VOICEKIT_KEY_PASSPHRASE),
and takes over the folder's keys (encrypted with it) the first time a home meets an empty table.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from consent.atomic import atomic_write
from consent.errors import DuplicateKey, KeyStoreError

if TYPE_CHECKING:
    from consent.database import Database


class KeyStore:
    """The operations `consent.keys.RegistryKeys` needs from where keys are kept."""

    name = "the key store"

    def current(self) -> str | None:
        """The id of the key that signs new records; None in a new store."""
        raise NotImplementedError

    def stamp(self) -> object:
        """A cheap value that changes when another key is made current."""
        raise NotImplementedError

    def private_pems(self) -> dict[str, bytes]:
        raise NotImplementedError

    def public_hexes(self) -> dict[str, str]:
        """Every key's raw public key in hex (also those kept without their private part)."""
        raise NotImplementedError

    def pem(self, key_id: str) -> bytes:
        raise NotImplementedError

    def add(self, key_id: str, pem: bytes, public_hex: str, make_current: bool) -> None:
        raise NotImplementedError

    def set_current(self, key_id: str) -> None:
        raise NotImplementedError


class FolderKeyStore(KeyStore):
    """`<key_id>.pem` (PKCS#8, mode 0600), `<key_id>.pub` (raw public key, hex) and `current`."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.name = f"the key folder {self.directory.name}/"

    def current(self) -> str | None:
        path = self.directory / "current"
        return path.read_text().strip() if path.exists() else None

    def stamp(self) -> object:
        stat = (self.directory / "current").stat()  # replaced atomically: a new inode on each rotation
        return stat.st_ino, stat.st_mtime_ns

    def private_pems(self) -> dict[str, bytes]:
        return {pem.stem: pem.read_bytes() for pem in sorted(self.directory.glob("*.pem"))}

    def public_hexes(self) -> dict[str, str]:
        return {pub.stem: pub.read_text().strip() for pub in sorted(self.directory.glob("*.pub"))}

    def pem(self, key_id: str) -> bytes:
        path = self.directory / f"{key_id}.pem"
        if not path.exists():
            raise KeyStoreError(f"key {key_id} is missing from {self.name}")
        return path.read_bytes()

    def add(self, key_id: str, pem: bytes, public_hex: str, make_current: bool) -> None:
        atomic_write(self.directory / f"{key_id}.pem", pem, mode=0o600)
        atomic_write(self.directory / f"{key_id}.pub", public_hex.encode() + b"\n", mode=0o600)
        if make_current:
            self.set_current(key_id)

    def set_current(self, key_id: str) -> None:
        atomic_write(self.directory / "current", key_id.encode() + b"\n", mode=0o600)


class DatabaseKeyStore(KeyStore):
    """The `signing_keys` table of a database server: one row per key, `current` set on one."""

    def __init__(self, db: "Database", passphrase: bytes | None, folder: Path | None = None) -> None:
        self.db = db
        self.name = "the database's signing_keys table"
        db.create(["signing_keys"])
        if not passphrase:
            raise KeyStoreError("the registry's keys on a database server are kept encrypted: "
                                "set VOICEKIT_KEY_PASSPHRASE (the same on every machine)")
        if folder is not None and (folder / "current").exists() and self.current() is None:
            self._adopt(FolderKeyStore(folder))

    def current(self) -> str | None:
        with self.db.read() as session:
            row = session.execute("SELECT key_id FROM signing_keys WHERE current = 1").fetchone()
        return None if row is None else row[0]

    def stamp(self) -> object:
        return self.current()

    def private_pems(self) -> dict[str, bytes]:
        with self.db.read() as session:
            rows = session.execute("SELECT key_id, pem FROM signing_keys ORDER BY key_id").fetchall()
        return {kid: bytes(pem) for kid, pem in rows}

    def public_hexes(self) -> dict[str, str]:
        with self.db.read() as session:
            return dict(session.execute("SELECT key_id, public_key FROM signing_keys ORDER BY key_id").fetchall())

    def pem(self, key_id: str) -> bytes:
        with self.db.read() as session:
            row = session.execute("SELECT pem FROM signing_keys WHERE key_id = :kid", {"kid": key_id}).fetchone()
        if row is None:
            raise KeyStoreError(f"key {key_id} is missing from {self.name}")
        return bytes(row[0])

    def add(self, key_id: str, pem: bytes, public_hex: str, make_current: bool) -> None:
        if b"ENCRYPTED" not in pem:
            raise KeyStoreError(f"key {key_id} is not encrypted; a database server keeps encrypted keys only")
        with self.db.write(serialise="voicekit signing keys") as session:
            if make_current and self._current_in(session) is not None:
                return  # another machine made the first key meanwhile: use that one
            try:
                session.execute("INSERT INTO signing_keys (key_id, pem, public_key, current) "
                                "VALUES (:kid, :pem, :public, 0)", {"kid": key_id, "pem": pem, "public": public_hex})
            except DuplicateKey:
                raise KeyStoreError(f"key {key_id} is already in {self.name}") from None
            if make_current:
                self._make_current(session, key_id)

    def set_current(self, key_id: str) -> None:
        with self.db.write(serialise="voicekit signing keys") as session:
            self._make_current(session, key_id)

    @staticmethod
    def _current_in(session) -> str | None:
        row = session.execute("SELECT key_id FROM signing_keys WHERE current = 1").fetchone()
        return None if row is None else row[0]

    @staticmethod
    def _make_current(session, key_id: str) -> None:
        session.execute("UPDATE signing_keys SET current = 0 WHERE current = 1 AND key_id <> :kid", {"kid": key_id})
        if session.execute("UPDATE signing_keys SET current = 1 WHERE key_id = :kid", {"kid": key_id}).rowcount != 1:
            raise KeyStoreError(f"key {key_id} is not in the database's signing_keys table")

    def _adopt(self, folder: FolderKeyStore) -> None:
        """A home that kept its keys in its folder before it was pointed at a server: its keys move
        to the table (the PEMs as they are, which must be encrypted), the folder's current last."""
        current = folder.current()
        publics = folder.public_hexes()
        for kid, pem in folder.private_pems().items():
            if b"ENCRYPTED" not in pem:
                raise KeyStoreError(f"key {kid} in {folder.name} is not encrypted; a database server keeps "
                                    "encrypted keys only (re-encrypt it, or start the server's keys afresh)")
            if kid not in publics:
                raise KeyStoreError(f"key {kid} in {folder.name} has no {kid}.pub beside it")
            self.add(kid, pem, publics[kid], make_current=False)
        self.set_current(current)

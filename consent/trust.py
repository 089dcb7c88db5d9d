"""Which signing keys an installation trusts: the root pinned when its home was made, and the keys
introduced after it, each by a signature of a key already trusted (a rotation).

Trust is never discovered from the key folder: a `.pub` planted there verifies nothing. The table
lives in the registry's database and every introduction is mirrored by a ledger entry (`genesis`
for the root, `key-rotation` after it), so the key history survives the loss of either one.
"""
from __future__ import annotations

from pathlib import Path

from consent.canonical import canonical_bytes
from consent.database import Database
from consent.errors import KeyStoreError, SignatureInvalid
from consent.keys import RegistryKeys, Signature, verify_raw


def introduction(key_id: str, public_key: str, introduced_at: float) -> bytes:
    """The bytes an introducing key signs."""
    return canonical_bytes({"key_id": key_id, "public_key": public_key, "introduced_at": introduced_at})


class TrustStore:
    """where: the registry's database."""

    def __init__(self, where: Path | Database) -> None:
        self.db = Database.of(where)
        self.db.create(("trusted_keys",))

    def _rows(self) -> list[tuple]:
        with self.db.read() as db:
            return db.execute("SELECT key_id, public_key, introduced_by, introduced_at, signature "
                              "FROM trusted_keys ORDER BY introduced_at, key_id").fetchall()

    def empty(self) -> bool:
        return not self._rows()

    def pin_root(self, keys: RegistryKeys, key_id: str, now: float) -> None:
        """Pin the installation's first key (only into an empty store)."""
        with self.db.write(serialise="voicekit trusted keys") as db:
            if db.execute("SELECT 1 FROM trusted_keys").fetchone() is not None:
                raise KeyStoreError("this installation's root key is already pinned")
            db.execute("INSERT INTO trusted_keys VALUES (:id, :public, NULL, :now, NULL)",
                       {"id": key_id, "public": keys.public_key_hex(key_id), "now": now})

    def introduce(self, keys: RegistryKeys, key_id: str, now: float, by: str | None = None) -> Signature:
        """Record `key_id` as introduced by the current key (or `by`, a trusted key whose private
        part is held); returns the signature."""
        public = keys.public_key_hex(key_id)
        signature = keys.sign(introduction(key_id, public, now), key_id=by)
        with self.db.write() as db:
            db.execute("INSERT INTO trusted_keys VALUES (:id, :public, :by, :now, :signature)",
                       {"id": key_id, "public": public, "by": signature.key_id, "now": now,
                        "signature": signature.value})
        return signature

    def establish(self, keys: RegistryKeys, require_current: bool = True) -> set[str]:
        """The trusted key ids: the one root, then every key whose introduction a trusted key
        signed; handed to `keys` in one step (threads verifying meanwhile never see less). Keys
        introduced by another process since `keys` was opened are added from their rows. Raises
        KeyStoreError for a store with no root or two, a root whose public key differs from the
        key folder's, or (require_current) a signing key that is not trusted."""
        rows = self._rows()
        roots = [r for r in rows if r[2] is None]
        if len(roots) != 1:
            raise KeyStoreError(f"the registry pins {len(roots)} root keys; an installation has exactly one "
                                "(the trust table was edited)")
        on_disk = keys.public_keys_on_disk()
        root_id, root_public = roots[0][0], roots[0][1]
        if on_disk.get(root_id, root_public) != root_public:
            raise KeyStoreError(f"the key file of root key {root_id} does not hold the pinned public key")
        public = {root_id: root_public}
        pending = [r for r in rows if r[2] is not None]
        progress = True
        while pending and progress:
            progress = False
            for row in list(pending):
                key_id, key_public, by, at, value = row
                if by not in public:
                    continue
                pending.remove(row)
                if on_disk.get(key_id, key_public) != key_public:
                    continue  # the folder holds another key under this id
                try:
                    verify_raw(public[by], introduction(key_id, key_public, at), value)
                except SignatureInvalid:
                    continue  # a forged introduction: the key stays untrusted
                public[key_id] = key_public
                progress = True
        for key_id, key_public in public.items():
            keys.add_public(key_id, key_public)
        keys.set_trusted(set(public), require_current=require_current)
        return set(public)

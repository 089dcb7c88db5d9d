"""The tables voicekit keeps (the records, and the jobs of voicekit.audiobook, .songjobs and .audits), declared once for SQLite and PostgreSQL. Times are Unix seconds in double
precision (a ledger entry's time is hashed: a 4-byte REAL on PostgreSQL would round it and break its
hash); sequence numbers and watermark payloads (32 unsigned bits) are 64-bit integers.

The embedded files are made from these declarations; a server from the Alembic revisions in
`consent/migrations`, which must produce the same tables (tests/consent/test_database.py compares).
"""
from __future__ import annotations

from sqlalchemy import (
                        BigInteger,
                        CheckConstraint,
                        Column,
                        Double,
                        Index,
                        Integer,
                        LargeBinary,
                        MetaData,
                        PrimaryKeyConstraint,
                        Table,
                        Text,
                        text,
)

metadata = MetaData()
# SQLite's INTEGER PRIMARY KEY is the row id (its B-tree key); PostgreSQL's 64-bit integer.
_KEY = BigInteger().with_variant(Integer(), "sqlite")

entries = Table(
    "entries", metadata,
    Column("seq", _KEY, primary_key=True, autoincrement=False),
    Column("prev", Text, nullable=False),
    Column("time", Double, nullable=False),
    Column("kind", Text, nullable=False),
    Column("body", Text, nullable=False),
    Column("hash", Text, nullable=False),
    Column("key_id", Text, nullable=False),
    Column("signature", Text, nullable=False),
    # what a state change is about: a voice id, 'api-key <id>', 'access <voice> <owner>', 'key <id>'
    Column("subject", Text),
    Column("voice", Text),  # outputs: the voice that spoke
    Column("mark_id", BigInteger),  # outputs: the watermark payload
)
Index("entries_by_subject", entries.c.subject, entries.c.seq,
      sqlite_where=text("subject IS NOT NULL"), postgresql_where=text("subject IS NOT NULL"))
Index("entries_by_mark", entries.c.mark_id,
      sqlite_where=text("mark_id IS NOT NULL"), postgresql_where=text("mark_id IS NOT NULL"))
Index("entries_by_kind", entries.c.kind, entries.c.time)
Index("entries_by_voice", entries.c.voice, entries.c.time,
      sqlite_where=text("voice IS NOT NULL"), postgresql_where=text("voice IS NOT NULL"))

marks = Table(
    "marks", metadata,
    Column("mark_id", _KEY, primary_key=True, autoincrement=False),
    Column("reserved_at", Double, nullable=False),
)

damage = Table(
    "damage", metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("problems", Text, nullable=False),
    CheckConstraint("id = 1", name="damage_single_row"),
)

ledger_witness = Table(
    "ledger_witness", metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("seq", BigInteger, nullable=False),
    Column("hash", Text, nullable=False),
    Column("key_id", Text, nullable=False),
    Column("signature", Text, nullable=False),
    CheckConstraint("id = 1", name="ledger_witness_single_row"),
)

trusted_keys = Table(
    "trusted_keys", metadata,
    Column("key_id", Text, primary_key=True),
    Column("public_key", Text, nullable=False),
    Column("introduced_by", Text),  # NULL for the root
    Column("introduced_at", Double, nullable=False),
    Column("signature", Text),  # the introducer's signature over the introduction
)

voices = Table(
    "voices", metadata,
    Column("voice_id", Text, primary_key=True),
    Column("record", LargeBinary, nullable=False),
    Column("key_id", Text, nullable=False),
    Column("signature", Text, nullable=False),
    Column("revoked_at", Double),
    Column("revoked_reason", Text),
)

challenges = Table(
    "challenges", metadata,
    Column("challenge_id", Text, primary_key=True),
    Column("name", Text, nullable=False),
    Column("phrase", Text, nullable=False),
    Column("nonce", Text, nullable=False),
    Column("issued_at", Double, nullable=False),
    Column("expires_at", Double, nullable=False),
    Column("used_at", Double),
    Column("failed_attempts", Integer, nullable=False, server_default=text("0")),
)

api_keys = Table(
    "api_keys", metadata,
    Column("key_id", Text, primary_key=True),
    Column("owner", Text, nullable=False),
    Column("scopes", Text, nullable=False),
    Column("secret_sha256", Text, nullable=False),
    Column("rate_per_minute", Integer, nullable=False),
    Column("created_at", Double, nullable=False),
    Column("revoked_at", Double),
)

voice_access = Table(
    "voice_access", metadata,
    Column("voice_id", Text, nullable=False),
    Column("owner", Text, nullable=False),
    Column("relation", Text, nullable=False),  # "owner" (enrolled it) or "grant"
    Column("since", Double, nullable=False),
    PrimaryKeyConstraint("voice_id", "owner"),
)

# The registry's keys on a server (consent.keystores): PKCS#8 PEMs, always encrypted.
signing_keys = Table(
    "signing_keys", metadata,
    Column("key_id", Text, primary_key=True),
    Column("pem", LargeBinary, nullable=False),
    Column("public_key", Text, nullable=False),
    Column("current", Integer, nullable=False, server_default=text("0")),
)
Index("signing_keys_current", signing_keys.c.current, unique=True,
      sqlite_where=text("current = 1"), postgresql_where=text("current = 1"))

# Jobs (voicekit.jobstore and its stores). A chapter's `claimed_at` is set while a process holds its
# claim (consent.database.Database.hold): set and not done, with the claim free, is an orphan.
jobs = Table(
    "jobs", metadata,
    Column("job_id", Text, primary_key=True),
    Column("owner", Text, nullable=False),
    Column("key_id", Text),
    Column("voice", Text, nullable=False),
    Column("style", Text),
    Column("output", Text, nullable=False),
    Column("title", Text),
    Column("status", Text, nullable=False),
    Column("created_at", Double, nullable=False),
    Column("started_at", Double),
    Column("finished_at", Double),
    Column("error", Text),
    Column("ledger_seq", BigInteger),
)
Index("jobs_by_status", jobs.c.status, jobs.c.created_at)

job_chapters = Table(
    "job_chapters", metadata,
    Column("job_id", Text, nullable=False),
    Column("idx", Integer, nullable=False),
    Column("title", Text, nullable=False),
    Column("text", Text, nullable=False),
    Column("words", Integer, nullable=False),
    Column("mark_id", BigInteger),
    Column("duration_s", Double),
    Column("render_s", Double),
    Column("finished_at", Double),
    Column("claimed_at", Double),
    Column("claimed_by", Text),  # host:pid of the process that took the claim
    PrimaryKeyConstraint("job_id", "idx"),
)

songs = Table(
    "songs", metadata,
    Column("job_id", Text, primary_key=True),
    Column("owner", Text, nullable=False),
    Column("key_id", Text),
    Column("status", Text, nullable=False),
    Column("created_at", Double, nullable=False),
    Column("finished_at", Double),
    Column("stage", Text),
    Column("done", Integer, nullable=False, server_default=text("0")),
    Column("total", Integer, nullable=False),
    Column("options", Text, nullable=False),
    Column("mark_id", Text),
    Column("ledger_seq", BigInteger),
    Column("figures", Text),
    Column("error", Text),
)
Index("songs_by_status", songs.c.status, songs.c.created_at)

audits = Table(
    "audits", metadata,
    Column("job_id", Text, primary_key=True),
    Column("owner", Text, nullable=False),
    Column("key_id", Text),
    Column("status", Text, nullable=False),
    Column("created_at", Double, nullable=False),
    Column("finished_at", Double),
    Column("files", Integer, nullable=False),
    Column("done", Integer, nullable=False, server_default=text("0")),
    Column("summary", Text),
    Column("error", Text),
)
Index("audits_by_status", audits.c.status, audits.c.created_at)

audit_files = Table(
    "audit_files", metadata,
    Column("job_id", Text, nullable=False),
    Column("idx", Integer, nullable=False),
    Column("name", Text, nullable=False),
    Column("stored", Text, nullable=False),
    PrimaryKeyConstraint("job_id", "idx"),
)

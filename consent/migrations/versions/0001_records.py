"""The records as of voicekit 0.9: ledger (entries, marks, damage), its witness, trusted keys, voices,
consent challenges, API keys and voice access.

Revision ID: 0001
Revises:
"""
import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

_KEY = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "entries",
        sa.Column("seq", _KEY, primary_key=True, autoincrement=False),
        sa.Column("prev", sa.Text, nullable=False),
        sa.Column("time", sa.Double, nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("hash", sa.Text, nullable=False),
        sa.Column("key_id", sa.Text, nullable=False),
        sa.Column("signature", sa.Text, nullable=False),
        sa.Column("subject", sa.Text),
        sa.Column("voice", sa.Text),
        sa.Column("mark_id", sa.BigInteger),
    )
    for name, columns, where in (("entries_by_subject", ["subject", "seq"], "subject IS NOT NULL"),
                                 ("entries_by_mark", ["mark_id"], "mark_id IS NOT NULL"),
                                 ("entries_by_kind", ["kind", "time"], None),
                                 ("entries_by_voice", ["voice", "time"], "voice IS NOT NULL")):
        partial = {} if where is None else {"sqlite_where": sa.text(where), "postgresql_where": sa.text(where)}
        op.create_index(name, "entries", columns, **partial)
    op.create_table(
        "marks",
        sa.Column("mark_id", _KEY, primary_key=True, autoincrement=False),
        sa.Column("reserved_at", sa.Double, nullable=False),
    )
    op.create_table(
        "damage",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("problems", sa.Text, nullable=False),
        sa.CheckConstraint("id = 1", name="damage_single_row"),
    )
    op.create_table(
        "ledger_witness",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("seq", sa.BigInteger, nullable=False),
        sa.Column("hash", sa.Text, nullable=False),
        sa.Column("key_id", sa.Text, nullable=False),
        sa.Column("signature", sa.Text, nullable=False),
        sa.CheckConstraint("id = 1", name="ledger_witness_single_row"),
    )
    op.create_table(
        "trusted_keys",
        sa.Column("key_id", sa.Text, primary_key=True),
        sa.Column("public_key", sa.Text, nullable=False),
        sa.Column("introduced_by", sa.Text),
        sa.Column("introduced_at", sa.Double, nullable=False),
        sa.Column("signature", sa.Text),
    )
    op.create_table(
        "voices",
        sa.Column("voice_id", sa.Text, primary_key=True),
        sa.Column("record", sa.LargeBinary, nullable=False),
        sa.Column("key_id", sa.Text, nullable=False),
        sa.Column("signature", sa.Text, nullable=False),
        sa.Column("revoked_at", sa.Double),
        sa.Column("revoked_reason", sa.Text),
    )
    op.create_table(
        "challenges",
        sa.Column("challenge_id", sa.Text, primary_key=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("phrase", sa.Text, nullable=False),
        sa.Column("nonce", sa.Text, nullable=False),
        sa.Column("issued_at", sa.Double, nullable=False),
        sa.Column("expires_at", sa.Double, nullable=False),
        sa.Column("used_at", sa.Double),
        sa.Column("failed_attempts", sa.Integer, nullable=False, server_default=sa.text("0")),
    )
    op.create_table(
        "api_keys",
        sa.Column("key_id", sa.Text, primary_key=True),
        sa.Column("owner", sa.Text, nullable=False),
        sa.Column("scopes", sa.Text, nullable=False),
        sa.Column("secret_sha256", sa.Text, nullable=False),
        sa.Column("rate_per_minute", sa.Integer, nullable=False),
        sa.Column("created_at", sa.Double, nullable=False),
        sa.Column("revoked_at", sa.Double),
    )
    op.create_table(
        "voice_access",
        sa.Column("voice_id", sa.Text, nullable=False),
        sa.Column("owner", sa.Text, nullable=False),
        sa.Column("relation", sa.Text, nullable=False),
        sa.Column("since", sa.Double, nullable=False),
        sa.PrimaryKeyConstraint("voice_id", "owner"),
    )

"""The registry's signing keys (encrypted) and the jobs (audiobooks, songs, audits), so that every
worker of a fleet signs with one key and sees every job.

Revision ID: 0002
Revises: 0001
"""
import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def _status_index(table: str) -> None:
    op.create_index(f"{table}_by_status", table, ["status", "created_at"])


def upgrade() -> None:
    op.create_table(
        "signing_keys",
        sa.Column("key_id", sa.Text, primary_key=True),
        sa.Column("pem", sa.LargeBinary, nullable=False),
        sa.Column("public_key", sa.Text, nullable=False),
        sa.Column("current", sa.Integer, nullable=False, server_default=sa.text("0")),
    )
    op.create_index("signing_keys_current", "signing_keys", ["current"], unique=True,
                    sqlite_where=sa.text("current = 1"), postgresql_where=sa.text("current = 1"))
    op.create_table(
        "jobs",
        sa.Column("job_id", sa.Text, primary_key=True),
        sa.Column("owner", sa.Text, nullable=False),
        sa.Column("key_id", sa.Text),
        sa.Column("voice", sa.Text, nullable=False),
        sa.Column("style", sa.Text),
        sa.Column("output", sa.Text, nullable=False),
        sa.Column("title", sa.Text),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("created_at", sa.Double, nullable=False),
        sa.Column("started_at", sa.Double),
        sa.Column("finished_at", sa.Double),
        sa.Column("error", sa.Text),
        sa.Column("ledger_seq", sa.BigInteger),
    )
    _status_index("jobs")
    op.create_table(
        "job_chapters",
        sa.Column("job_id", sa.Text, nullable=False),
        sa.Column("idx", sa.Integer, nullable=False),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("words", sa.Integer, nullable=False),
        sa.Column("mark_id", sa.BigInteger),
        sa.Column("duration_s", sa.Double),
        sa.Column("render_s", sa.Double),
        sa.Column("finished_at", sa.Double),
        sa.Column("claimed_at", sa.Double),
        sa.Column("claimed_by", sa.Text),
        sa.PrimaryKeyConstraint("job_id", "idx"),
    )
    op.create_table(
        "songs",
        sa.Column("job_id", sa.Text, primary_key=True),
        sa.Column("owner", sa.Text, nullable=False),
        sa.Column("key_id", sa.Text),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("created_at", sa.Double, nullable=False),
        sa.Column("finished_at", sa.Double),
        sa.Column("stage", sa.Text),
        sa.Column("done", sa.Integer, nullable=False, server_default=sa.text("0")),
        sa.Column("total", sa.Integer, nullable=False),
        sa.Column("options", sa.Text, nullable=False),
        sa.Column("mark_id", sa.Text),
        sa.Column("ledger_seq", sa.BigInteger),
        sa.Column("figures", sa.Text),
        sa.Column("error", sa.Text),
    )
    _status_index("songs")
    op.create_table(
        "audits",
        sa.Column("job_id", sa.Text, primary_key=True),
        sa.Column("owner", sa.Text, nullable=False),
        sa.Column("key_id", sa.Text),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("created_at", sa.Double, nullable=False),
        sa.Column("finished_at", sa.Double),
        sa.Column("files", sa.Integer, nullable=False),
        sa.Column("done", sa.Integer, nullable=False, server_default=sa.text("0")),
        sa.Column("summary", sa.Text),
        sa.Column("error", sa.Text),
    )
    _status_index("audits")
    op.create_table(
        "audit_files",
        sa.Column("job_id", sa.Text, nullable=False),
        sa.Column("idx", sa.Integer, nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("stored", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("job_id", "idx"),
    )


def downgrade() -> None:
    for table in ("audit_files", "audits", "songs", "job_chapters", "jobs", "signing_keys"):
        op.drop_table(table)

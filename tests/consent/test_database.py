"""The records on a database server: migrated by `voicekit db upgrade` and only then opened, the
schema Alembic makes equal to the one the embedded files get, times kept exactly (they are hashed),
and a change one process makes seen by another at once."""
import json
import os
import subprocess
import sys
import textwrap

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from consent.database import Database
from consent.errors import DatabaseUnavailable, VoiceRevoked
from consent.profiles import VoiceProfile
from consent.records import Records
from consent.schema import metadata


def voicekit(tmp_path, url, *args):
    env = {**os.environ, "VOICEKIT_HOME": str(tmp_path / "home"), "VOICEKIT_DATABASE_URL": url}
    return subprocess.run([sys.executable, "-m", "voicekit.cli", *args], capture_output=True, text=True, env=env,
                          timeout=120)


def test_an_unmigrated_server_is_refused_until_db_upgrade(tmp_path, postgres):
    url = postgres.new_database(migrated=False)
    refused = voicekit(tmp_path, url, "ledger", "verify")
    lines = refused.stderr.strip().splitlines()
    assert refused.returncode == 5 and len(lines) == 1, refused.stderr
    assert "has no voicekit schema" in lines[0] and "voicekit db upgrade" in lines[0]
    status = json.loads(voicekit(tmp_path, url, "db", "status", "--json").stdout)
    assert status["current"] is None and not status["up_to_date"]

    upgraded = voicekit(tmp_path, url, "db", "upgrade", "--json")
    assert upgraded.returncode == 0, upgraded.stderr
    assert json.loads(upgraded.stdout)["from"] is None
    assert json.loads(voicekit(tmp_path, url, "db", "status", "--json").stdout)["up_to_date"]
    verified = voicekit(tmp_path, url, "ledger", "verify", "--json")
    assert verified.returncode == 0 and json.loads(verified.stdout)["ok"], verified.stderr
    again = voicekit(tmp_path, url, "db", "upgrade")
    assert again.returncode == 0 and "already at" in again.stdout


def test_an_unreachable_server_is_one_clear_line(tmp_path):
    url = f"postgresql://voicekit@/nowhere?host={tmp_path}"  # no server listens on this socket
    run = voicekit(tmp_path, url, "ledger", "verify")
    lines = run.stderr.strip().splitlines()
    assert run.returncode == 5 and len(lines) == 1, run.stderr
    assert lines[0].startswith("voicekit: database unavailable: cannot reach the database postgresql")
    with pytest.raises(DatabaseUnavailable, match="not a database URL"):
        Database("no such thing://")


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_the_migrations_make_the_declared_schema(tmp_path, postgres, backend):
    from consent.migrations import upgrade

    database = Database(f"sqlite:///{tmp_path / 'one.db'}") if backend == "sqlite" else Database(
        postgres.new_database(migrated=False))
    upgrade(database)
    with database.engine.connect() as connection:
        assert compare_metadata(MigrationContext.configure(connection), metadata) == []
    database.engine.dispose()


def test_times_are_kept_exactly_on_the_server(tmp_path, database_url):
    """A ledger entry's time is in its hash: stored as 4-byte floats it would no longer verify."""
    records = Records.open(tmp_path / "home", None, now=1_764_000_000.123456)
    for i in range(3):
        records.ledger.append("output", {"mark_id": records.ledger.reserve_mark(1.0), "voice": "heart"},
                              now=1_764_000_001.987654321 + i / 7)
    assert records.ledger.verify().ok
    assert records.ledger.entry(2).time == 1_764_000_001.987654321 + 1 / 7


def test_a_revocation_in_one_process_is_refused_at_once_in_another(tmp_path, database_url):
    home = tmp_path / "home"
    voice = VoiceProfile("profile:ada", "clone", "heart", "Ada", "consent", ("tts",), 0.0)
    records = Records.open(home, None, now=1.0)
    records.registry.register(voice, now=1.0, kind="enrollment")
    assert records.registry.check_at(voice.voice_id, now=2.0) == voice
    subprocess.run([sys.executable, "-c", textwrap.dedent(f"""
        from consent.records import Records
        Records.open({str(home)!r}, None, now=3.0).registry.revoke("profile:ada", "withdrawn", now=3.0)
    """)], check=True, cwd=os.getcwd(), env=os.environ)
    with pytest.raises(VoiceRevoked, match="withdrawn"):
        records.registry.check_at(voice.voice_id, now=4.0)

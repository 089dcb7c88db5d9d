"""The job stores (audiobooks, songs, audits) on the home's SQLite files and on PostgreSQL: listing by
owner, the unfinished and orphaned jobs a restart or a worker's sweep picks up, and an old home's
job file taking the columns added since."""
from __future__ import annotations

import sqlite3

from consent.database import Database
from voicekit.audiobook import Narrations
from voicekit.audits import Audits
from voicekit.books import Chapter
from voicekit.songjobs import Songs


def _db(database_url):
    return None if database_url is None else Database(database_url)


def test_jobs_are_listed_by_owner_and_a_dead_narrators_job_is_orphaned(tmp_path, database_url):
    narrations = Narrations(tmp_path / "audiobooks", _db(database_url))
    chapters = [Chapter("One", "The first chapter."), Chapter("Two", "The second chapter.")]
    mine = narrations.submit(chapters, "heart", "ada", now=1.0, key_id="k1")
    theirs = narrations.submit(chapters, "heart", "bob", now=2.0, key_id="k2")
    assert [j.job_id for j in narrations.jobs("ada")] == [mine.job_id]
    assert [j.job_id for j in narrations.jobs()] == [mine.job_id, theirs.job_id]
    assert narrations.unfinished() == [mine.job_id, theirs.job_id]

    with narrations.db.write() as session:  # ada's job running, its first chapter claimed by a process
        session.execute("UPDATE jobs SET status = 'running' WHERE job_id = :job", {"job": mine.job_id})
        session.execute("UPDATE job_chapters SET claimed_at = 3.0 WHERE job_id = :job AND idx = 0",
                        {"job": mine.job_id})
    with narrations.db.hold(f"voicekit audiobook {mine.job_id} chapter 0") as held:
        assert held and narrations.orphaned() == []  # the claim is held: its narrator is alive
    assert narrations.orphaned() == [mine.job_id]  # released with its holder: the narrator died

    narrations.cancel(theirs.job_id, now=4.0, owner="bob")
    assert narrations.job(theirs.job_id).status == "cancelled"
    assert narrations.unfinished() == [mine.job_id]


def test_songs_and_audits_running_without_their_claim_are_orphaned(tmp_path, database_url):
    db = _db(database_url)
    songs, audits = Songs(tmp_path / "songs", db), Audits(tmp_path / "audits", db)
    song = songs.submit(b"la la la", False, {"format": "mp3"}, stages=4, owner="ada", now=1.0, key_id="k1")
    audit = audits.submit([("a.wav", ".wav", b"RIFF")], owner="ada", now=1.0, key_id="k1")
    assert [j.job_id for j in songs.jobs("ada")] == [song.job_id] and songs.jobs("bob") == []
    assert songs.orphaned() == [] and audits.orphaned() == []  # queued: nobody has started them
    songs._update(song.job_id, status="running")
    audits._update(audit.job_id, status="running")
    with songs.db.hold(f"voicekit song {song.job_id}"):
        assert songs.orphaned() == []
    assert songs.orphaned() == [song.job_id] and audits.orphaned() == [audit.job_id]


def test_an_old_homes_job_file_gets_the_new_columns(tmp_path):
    folder = tmp_path / "audiobooks"
    folder.mkdir()
    with sqlite3.connect(folder / "jobs.db") as old:  # as voicekit wrote it before chapters were claimed
        old.executescript("""
            CREATE TABLE jobs (job_id TEXT PRIMARY KEY, owner TEXT NOT NULL, key_id TEXT, voice TEXT NOT NULL,
                style TEXT, output TEXT NOT NULL, title TEXT, status TEXT NOT NULL, created_at REAL NOT NULL,
                started_at REAL, finished_at REAL, error TEXT, ledger_seq INTEGER);
            CREATE TABLE job_chapters (job_id TEXT NOT NULL, idx INTEGER NOT NULL, title TEXT NOT NULL,
                text TEXT NOT NULL, words INTEGER NOT NULL, mark_id INTEGER, duration_s REAL, render_s REAL,
                finished_at REAL, PRIMARY KEY (job_id, idx));
            INSERT INTO jobs VALUES ('old', 'ada', NULL, 'heart', NULL, 'm4b', NULL, 'queued', 1.0,
                NULL, NULL, NULL, NULL);
            INSERT INTO job_chapters VALUES ('old', 0, 'One', 'Text.', 1, NULL, NULL, NULL, NULL);
        """)
    narrations = Narrations(folder)
    assert narrations.job("old").chapters[0].words == 1
    columns = {row[1] for row in sqlite3.connect(folder / "jobs.db").execute("PRAGMA table_info(job_chapters)")}
    assert {"claimed_at", "claimed_by"} <= columns

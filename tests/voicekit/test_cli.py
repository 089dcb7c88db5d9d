"""The `voicekit` command as a user runs it: a real process, real files, exit codes and messages."""
import json
import os
import subprocess
import sys

import pytest

from tests.conftest import HUMAN_RECORDING


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    return tmp_path_factory.mktemp("cli-home")


def voicekit(home, *args, stdin=None):
    env = {**os.environ, "VOICEKIT_HOME": str(home)}
    return subprocess.run([sys.executable, "-m", "voicekit.cli", *args], input=stdin,
                          capture_output=True, text=True, env=env, timeout=300)


def one_line_error(run):
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1, run.stderr
    return lines[0]


def test_say_detect_and_ledger_verify(home, tmp_path):
    out = tmp_path / "hello.mp3"
    run = voicekit(home, "say", "Hello from the command line.", "-o", str(out), "--voice", "joe", "--json")
    assert run.returncode == 0, run.stderr
    said = json.loads(run.stdout)
    assert out.exists() and said["voice"] == "joe"

    run = voicekit(home, "detect", str(out), "--json")
    assert run.returncode == 0, run.stderr
    found = json.loads(run.stdout)
    assert found["watermarked"] is True and found["p_value"] <= 1e-6
    assert found["mark_id"] == said["mark_id"] and found["payload"] == said["mark_id"]
    assert found["provenance"]["voice"] == "joe" and found["provenance"]["signature_valid"] is True
    windowed = voicekit(home, "detect", str(out), "--since", "2020-01-01", "--json")
    assert windowed.returncode == 0 and json.loads(windowed.stdout)["mark_id"] == said["mark_id"]

    run = voicekit(home, "ledger", "verify", "--json")
    assert run.returncode == 0 and json.loads(run.stdout)["ok"] is True


def test_text_from_stdin_and_sample_rate(home, tmp_path):
    out = tmp_path / "stdin.flac"
    run = voicekit(home, "say", "-", "-o", str(out), "--sample-rate", "16000", stdin="Read from standard input.")
    assert run.returncode == 0, run.stderr
    import soundfile as sf

    assert sf.info(str(out)).samplerate == 16000


def test_voices_lists_the_house_voices(home):
    run = voicekit(home, "voices", "--json")
    assert run.returncode == 0
    assert {v["voice"]: v["status"] for v in json.loads(run.stdout)} == {"heart": "active", "joe": "active"}


@pytest.mark.parametrize("args, code, message", [
    (["say", "", "-o", "{tmp}/x.wav"], 2, "text is empty"),
    (["say", "Hi.", "-o", "{tmp}/x.wav", "--voice", "bob"], 3, "unknown voice 'bob'; voices you may use: heart, joe"),
    (["say", "Hi.", "-o", "{tmp}/missing/x.wav"], 2, "does not exist"),
    (["say", "Hi.", "-o", "{tmp}/x.aiff"], 2, "unsupported output extension '.aiff'"),
    (["say", "Hi.", "-o", "{tmp}/x.wav", "--sample-rate", "1000"], 2, "outside 8000..48000"),
    (["detect", "{tmp}/nothing.wav"], 2, "no such file"),
    (["detect", "{tmp}/nothing.wav", "--since", "last week"], 2, "--since 'last week' is not an ISO date"),
    (["ledger", "checkpoint", "-o", "{tmp}/missing/checkpoint.json"], 2, "does not exist"),
])
def test_bad_input_gets_one_clear_line_and_writes_nothing(home, tmp_path, args, code, message):
    run = voicekit(home, *[a.replace("{tmp}", str(tmp_path)) for a in args])
    assert run.returncode == code
    assert message in one_line_error(run)
    assert not any(p.suffix in {".wav", ".aiff", ".part"} for p in tmp_path.rglob("*"))


def test_unwritable_folder_is_refused(home, tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    run = voicekit(home, "say", "Hi.", "-o", str(locked / "x.wav"))
    if os.geteuid() == 0:  # root writes anywhere: the file is made, atomically
        assert run.returncode == 0
    else:
        assert run.returncode == 2 and "not writable" in one_line_error(run)


def test_detect_on_corrupt_empty_and_silent_files(home, tmp_path):
    corrupt = tmp_path / "corrupt.wav"
    corrupt.write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk" * 10)
    run = voicekit(home, "detect", str(corrupt))
    assert run.returncode == 2 and "not a readable audio file" in one_line_error(run)

    empty = tmp_path / "empty.mp3"
    empty.write_bytes(b"")
    run = voicekit(home, "detect", str(empty))
    assert run.returncode == 2 and "empty" in one_line_error(run)

    import numpy as np
    import soundfile as sf

    for name, n in (("zero.wav", 0), ("blip.wav", 50), ("silence.wav", 48000)):
        sf.write(tmp_path / name, np.zeros(n, np.float32), 24000)
        run = voicekit(home, "detect", str(tmp_path / name), "--json")
        assert run.returncode == 0, run.stderr
        assert json.loads(run.stdout)["watermarked"] is False


def test_human_recording_is_not_watermarked(home):
    run = voicekit(home, "detect", str(HUMAN_RECORDING), "--json")
    assert run.returncode == 0 and json.loads(run.stdout)["watermarked"] is False


def test_an_edited_ledger_fails_verification_stops_say_until_repaired(tmp_path):
    import sqlite3

    home = tmp_path / "home"
    assert voicekit(home, "say", "First.", "-o", str(tmp_path / "a.wav")).returncode == 0
    kept = voicekit(home, "ledger", "checkpoint", "-o", str(tmp_path / "checkpoint.json"))
    assert kept.returncode == 0, kept.stderr
    assert voicekit(home, "say", "Second.", "-o", str(tmp_path / "b.wav")).returncode == 0
    against = voicekit(home, "ledger", "verify", "--against", str(tmp_path / "checkpoint.json"), "--json")
    assert against.returncode == 0 and json.loads(against.stdout)["ok"] is True
    with sqlite3.connect(home / "ledger" / "ledger.db") as db:
        db.execute("UPDATE entries SET body = replace(body, '\"voice\":\"heart\"', '\"voice\":\"joe\"') "
                   "WHERE kind = 'output' AND seq = (SELECT min(seq) FROM entries WHERE kind = 'output')")
    run = voicekit(home, "ledger", "verify", "--json")
    assert run.returncode == 5
    report = json.loads(run.stdout)
    assert report["ok"] is False and any("edited" in p for p in report["problems"])

    refused = voicekit(home, "say", "Third.", "-o", str(tmp_path / "c.wav"))
    assert refused.returncode == 5 and "ledger repair" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1 and not (tmp_path / "c.wav").exists()

    repaired = voicekit(home, "ledger", "repair", "--json")
    assert repaired.returncode == 0 and json.loads(repaired.stdout)["repaired"] is True
    assert voicekit(home, "say", "Third.", "-o", str(tmp_path / "c.wav")).returncode == 0
    after = json.loads(voicekit(home, "ledger", "verify", "--json").stdout)
    assert after["ok"] is True and any("edited" in p for p in after["repaired"])


def test_export_public_reports_a_planted_key_as_untrusted(tmp_path):
    from consent.keys import RegistryKeys

    home = tmp_path / "home"
    assert voicekit(home, "voices").returncode == 0
    planted = RegistryKeys.open(tmp_path / "attacker").current_key_id
    (home / "keys" / f"{planted}.pub").write_bytes((tmp_path / "attacker" / f"{planted}.pub").read_bytes())
    rows = json.loads(voicekit(home, "keys", "export-public", "--json").stdout)
    assert [r["trusted"] for r in rows if r["key_id"] == planted] == [False]
    assert [r["kind"] for r in rows if r["trusted"]] == ["registry-key", "c2pa-root"]
    report = json.loads(voicekit(home, "ledger", "verify", "--json").stdout)
    assert report["untrusted_keys"] == [planted]


def test_consent_enroll_profiles_and_keys(tmp_path):
    """The enrollment lifecycle as a user runs it. The challenge read aloud is made with fixed words
    (heart reads them reliably); the CLI's own challenge is checked for its shape."""
    import soundfile as sf

    from voicekit import Studio

    home = tmp_path / "home"
    issued = voicekit(home, "consent", "challenge", "--name", "Mary Jones", "--json")
    assert issued.returncode == 0, issued.stderr
    challenge = json.loads(issued.stdout)
    assert set(challenge) == {"challenge_id", "phrase", "expires_at"}
    assert challenge["phrase"].startswith(
        "My name is Mary Jones. I agree that voicekit may create a synthetic version of my voice.")

    studio = Studio(home=home)
    fixed = studio.consent_challenge("Mary Jones", nonce=("harbor", "pencil", "tiger", "violin"))
    heart = studio.engine("heart")
    sf.write(tmp_path / "consent.wav", heart.synthesize(fixed.phrase), heart.sample_rate)
    sf.write(tmp_path / "ref.wav", heart.synthesize(
        "The old lighthouse keeper climbed the winding stairs every evening to light the lamp. "
        "Rain had fallen all week, and the river was running high under the stone bridge. "
        "She packed a small bag with bread, cheese and apples before setting out at dawn."), heart.sample_rate)

    enrolled = voicekit(home, "enroll", "--challenge", fixed.challenge_id, "--consent", str(tmp_path / "consent.wav"),
                        "--scope", "tts,sing", "--expires", "2099-12-31", "--json", str(tmp_path / "ref.wav"))
    assert enrolled.returncode == 0, enrolled.stderr
    profile_id = json.loads(enrolled.stdout)["profile_id"]
    again = voicekit(home, "enroll", "--challenge", fixed.challenge_id, "--consent", str(tmp_path / "consent.wav"),
                     str(tmp_path / "ref.wav"))
    assert again.returncode == 3 and "already used" in one_line_error(again)

    listed = json.loads(voicekit(home, "profiles", "list", "--json").stdout)
    assert [(p["profile_id"], p["status"]) for p in listed] == [(profile_id, "active")]
    shown = json.loads(voicekit(home, "profiles", "show", profile_id, "--json").stdout)
    assert shown["status"] == "active" and shown["scopes"] == ["tts", "sing"]
    assert shown["expires_at"] == "2100-01-01T00:00:00Z" and shown["details"]["consent"]["challenge_id"] == fixed.challenge_id

    revoked = voicekit(home, "profiles", "revoke", profile_id, "--reason", "asked by the speaker", "--json")
    assert revoked.returncode == 0 and json.loads(revoked.stdout)["status"] == "revoked"
    say = voicekit(home, "say", "Hello.", "--voice", profile_id, "-o", str(tmp_path / "x.wav"))
    assert say.returncode == 3 and "asked by the speaker" in one_line_error(say)

    def registry_keys():
        rows = json.loads(voicekit(home, "keys", "export-public", "--json").stdout)
        return [r for r in rows if r["kind"] == "registry-key"]

    old = registry_keys()
    rotated = json.loads(voicekit(home, "keys", "rotate", "--json").stdout)["key_id"]
    keys = registry_keys()
    assert {k["key_id"] for k in keys} == {old[0]["key_id"], rotated}
    assert [k["key_id"] for k in keys if k["current"]] == [rotated] and keys[0]["pem"].startswith("-----BEGIN PUBLIC KEY")
    assert json.loads(voicekit(home, "profiles", "show", profile_id, "--json").stdout)["status"] == "revoked"
    verify = voicekit(home, "ledger", "verify", "--json")
    assert verify.returncode == 0 and json.loads(verify.stdout)["ok"]


@pytest.mark.parametrize("args, message", [
    (["consent", "challenge", "--name", "Never Jones"], "negation"),
    (["enroll", "--challenge", "nope", "--consent", "c.wav", "r.wav"], "unknown challenge"),
    (["enroll", "--challenge", "x", "--consent", "c.wav", "--expires", "soon", "r.wav"], "not an ISO date"),
    (["profiles", "show", "nobody"], "unknown voice"),
])
def test_consent_verbs_refuse_bad_input_in_one_line(home, args, message):
    run = voicekit(home, *args)
    assert run.returncode in (2, 3) and message in one_line_error(run)


def test_say_speaks_ssml_from_a_string_or_a_file_with_rate_and_pitch(home, tmp_path):
    document = tmp_path / "hello.ssml"
    document.write_text('<speak>Hello.<break time="500ms"/><mark name="m"/>Again.</speak>', encoding="utf-8")
    for source in (str(document), document.read_text()):
        out = tmp_path / "ssml.wav"
        run = voicekit(home, "say", "--ssml", source, "--rate", "1.2", "--pitch", "2", "-o", str(out), "--json")
        assert run.returncode == 0, run.stderr
        assert json.loads(run.stdout)["marks"]["m"] > 0.5 and out.exists()


@pytest.mark.parametrize("args, message", [
    (["say", "--ssml", "<speak><bogus/></speak>"], "SSML line 1, column 8: unsupported element <bogus>"),
    (["say", "--ssml", "<!DOCTYPE x [<!ENTITY a 'b'>]><speak>&a;</speak>"], "document type declarations"),
    (["say", "--ssml", "missing.ssml"], "neither markup nor a readable UTF-8 file"),
    (["say", "hello", "--ssml", "<speak>x</speak>"], "not both"),
    (["say", "hello", "--rate", "9"], "rate 9 is outside"),
])
def test_say_refuses_bad_ssml_and_prosody_in_one_line(home, tmp_path, args, message):
    out = tmp_path / "never.wav"
    run = voicekit(home, *args, "-o", str(out))
    assert run.returncode == 2 and message in one_line_error(run)
    assert not out.exists()


def test_audiobook_narrates_a_book_to_an_m4b(home, tmp_path):
    from voicekit.m4b import read_chapters

    book = tmp_path / "tale.md"
    book.write_text("# A Tale\n\n## Morning\n\nThe ferry left at dawn.\n\n## Night\n\nThe town was quiet again.\n")
    out = tmp_path / "tale.m4b"
    run = voicekit(home, "audiobook", str(book), "-o", str(out), "--voice", "heart", "--json")
    assert run.returncode == 0, run.stderr
    made = json.loads(run.stdout)
    assert made["chapters"] == 2 and made["words"] == 10
    assert [c["title"] for c in read_chapters(out.read_bytes())] == ["Morning", "Night"]

    wrong = voicekit(home, "audiobook", str(book), "-o", str(tmp_path / "tale.mp3"))
    assert wrong.returncode == 2 and ".m4b" in one_line_error(wrong)
    missing = voicekit(home, "audiobook", str(tmp_path / "none.epub"), "-o", str(out))
    assert missing.returncode == 2 and "none.epub" in one_line_error(missing)


def test_an_interrupted_audiobook_is_finished_by_resume_without_redoing_chapters(home, tmp_path):
    from voicekit import Studio
    from voicekit.audiobook import Narrations
    from voicekit.books import Chapter

    studio = Studio(home=home)
    narrations = Narrations(home / "audiobooks")
    job = narrations.submit([Chapter("One", "The ferry left at dawn."), Chapter("Two", "Gulls followed it."),
                             Chapter("Three", "The town was quiet.")], "joe", "cli", studio.clock())

    def stop_after_the_first_chapter(state) -> None:
        raise KeyboardInterrupt  # as a killed run: the job stays "running", its first chapter kept

    with pytest.raises(KeyboardInterrupt):
        narrations.narrate(studio, job.job_id, on_progress=stop_after_the_first_chapter)
    stopped = narrations.job(job.job_id)
    finished = {c.index: c.mark_id for c in stopped.chapters if c.done}
    assert stopped.status == "running" and 0 < len(finished) < 3  # (the one in flight may finish)

    out = tmp_path / "resumed.m4b"
    run = voicekit(home, "audiobook", "--resume", job.job_id, "-o", str(out), "--json")
    assert run.returncode == 0, run.stderr
    done = narrations.job(job.job_id)
    assert done.status == "done" and json.loads(run.stdout)["chapters"] == 3
    assert all(done.chapters[i].mark_id == mark for i, mark in finished.items())  # not rendered again
    again = voicekit(home, "audiobook", "--resume", job.job_id, "-o", str(out))
    assert again.returncode == 2 and "is done" in one_line_error(again)


def test_api_keys_are_created_listed_and_revoked(home):
    made = json.loads(voicekit(home, "api-keys", "create", "--owner", "ops", "--scopes", "audit", "--json").stdout)
    revoked = voicekit(home, "api-keys", "revoke", made["key_id"], "--json")
    assert revoked.returncode == 0 and json.loads(revoked.stdout)["revoked_at"]
    listed = json.loads(voicekit(home, "api-keys", "list", "--json").stdout)
    assert [k["revoked_at"] is not None for k in listed if k["key_id"] == made["key_id"]] == [True]
    bad = voicekit(home, "api-keys", "create", "--owner", "ops", "--scopes", "speak,root")
    assert bad.returncode == 2 and "root" in one_line_error(bad)
    again = voicekit(home, "api-keys", "revoke", made["key_id"])
    assert again.returncode == 3 and "already revoked" in one_line_error(again)


def test_a_wrong_passphrase_is_a_key_error_not_a_consent_refusal(tmp_path):
    home = tmp_path / "home"
    env = {**os.environ, "VOICEKIT_HOME": str(home), "VOICEKIT_KEY_PASSPHRASE": "correct horse"}
    made = subprocess.run([sys.executable, "-m", "voicekit.cli", "voices"], capture_output=True, text=True, env=env,
                          timeout=300)
    assert made.returncode == 0, made.stderr
    wrong = subprocess.run([sys.executable, "-m", "voicekit.cli", "voices"], capture_output=True, text=True,
                           env={**env, "VOICEKIT_KEY_PASSPHRASE": "wrong"}, timeout=300)
    assert wrong.returncode == 1
    assert one_line_error(wrong).startswith("voicekit: signing keys:") and "wrong passphrase" in wrong.stderr

"""The README's examples run as written: every Python block in order, in a fresh data folder;
every `voicekit` command line parses (its verbs and flags exist); and the first shell block, the
one a new user types first, runs end to end."""
from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from voicekit.cli import build_parser

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
BLOCKS = re.findall(r"```(\w+)\n(.*?)```", README, re.S)


def _command_lines() -> list[str]:
    lines = []
    for lang, body in BLOCKS:
        for line in body.splitlines() if lang == "sh" else []:
            line = re.sub(r"\s+#.*$", "", line).strip()
            if line.startswith(("voicekit ", "VOICEKIT_DEVICE=cuda voicekit ")):
                lines.append(line.split("voicekit ", 1)[1])
    return lines


def test_the_python_examples_run(tmp_path, monkeypatch):
    monkeypatch.setenv("VOICEKIT_HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    blocks = [body for lang, body in BLOCKS if lang == "python"]
    assert len(blocks) >= 2
    namespace: dict = {}
    for body in blocks:
        exec(compile(body, "README.md", "exec"), namespace)  # noqa: S102 - our own README
    assert (tmp_path / "hello.wav").exists()


@pytest.mark.parametrize("line", _command_lines())
def test_every_command_line_parses(line):
    words = [w for w in shlex.split(line.replace("|", " ")) if w != "..."]
    alternatives = " ".join(words)
    if "[" in alternatives:  # "lexicon set names.tsv [--voice joe]": the optional part too
        words = [w.strip("[]") for w in words]
    build_parser().parse_args(words[: _first_alternative(words)])


def _first_alternative(words: list[str]) -> int:
    """`profiles list | show ID | revoke ID`: parse the first form (the others are its siblings)."""
    for i, word in enumerate(words[2:], 2):
        if word in ("show", "revoke") and words[0] in ("profiles", "api-keys"):
            return i
    return len(words)


def test_the_first_shell_block_runs(tmp_path):
    use = next(body for lang, body in BLOCKS if lang == "sh" and "voicekit say" in body)
    for line in use.splitlines():
        line = re.sub(r"\s+#.*$", "", line).strip()
        if not line.startswith("voicekit ") or " demo" in line:
            continue
        ran = subprocess.run([sys.executable, "-m", "voicekit.cli", "--home", str(tmp_path / "home"),
                              *shlex.split(line)[1:]], cwd=tmp_path, capture_output=True, text=True, timeout=300)
        assert ran.returncode == 0, (line, ran.stderr)
        assert ran.stderr == "", (line, ran.stderr)  # no library warning reaches the terminal

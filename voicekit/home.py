"""Where voicekit keeps its data, and the one place the environment is read for it."""
from __future__ import annotations

import os
from pathlib import Path


def default_home() -> Path:
    """VOICEKIT_HOME if set, else a `voicekit` folder in the user's data dir."""
    if os.environ.get("VOICEKIT_HOME"):
        return Path(os.environ["VOICEKIT_HOME"]).expanduser()
    from platformdirs import user_data_dir

    return Path(user_data_dir("voicekit", appauthor=False))


def default_passphrase() -> bytes | None:
    """VOICEKIT_KEY_PASSPHRASE (encrypts the registry's private keys at rest), if set."""
    value = os.environ.get("VOICEKIT_KEY_PASSPHRASE")
    return value.encode("utf-8") if value else None

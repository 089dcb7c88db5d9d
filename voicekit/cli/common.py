"""What every verb shares: the parser class, the studio, printing, and parsing times and scopes."""
from __future__ import annotations

import argparse
import json
import os
import sys
from typing import TYPE_CHECKING, Any

from consent.errors import EXIT_BAD_INPUT
from voicekit.errors import BadInput

if TYPE_CHECKING:
    from voicekit.studio import Studio

EXIT_OK = 0


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, our exit code for bad input
        self.exit(EXIT_BAD_INPUT, f"voicekit: error: {message}\n")


def studio(args: argparse.Namespace) -> "Studio":
    """The studio over --home (or VOICEKIT_HOME); VOICEKIT_DEVICE says where torch models run."""
    from voicekit.studio import Studio

    return Studio(home=args.home, device=os.environ.get("VOICEKIT_DEVICE", "cpu"))


def show(data: Any, as_json: bool, text: str) -> None:
    print(json.dumps(data, indent=2) if as_json else text)


def scopes(text: str) -> tuple[str, ...]:
    return tuple(s.strip() for s in text.split(",") if s.strip())


def parse_time(text: str, flag: str, end_of_day: bool = False) -> float:
    """ISO date (its start, or with end_of_day its end, UTC) or date-time (UTC unless it names a
    zone) -> Unix seconds; BadInput naming `flag` otherwise."""
    from datetime import date, datetime, time, timedelta, timezone

    try:
        if len(text) == 10:
            day = date.fromisoformat(text) + timedelta(days=1 if end_of_day else 0)
            return datetime.combine(day, time(), timezone.utc).timestamp()
        moment = datetime.fromisoformat(text)
    except ValueError as e:
        raise BadInput(f"{flag} {text!r} is not an ISO date (2027-01-31) or date-time") from e
    return (moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)).timestamp()


def iso(seconds: float | None) -> str | None:
    from datetime import datetime, timezone

    if seconds is None:
        return None
    return datetime.fromtimestamp(seconds, timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def fail(code: int, message: str) -> int:
    print(f"voicekit: {message}", file=sys.stderr)
    return code

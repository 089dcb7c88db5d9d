"""The one canonical byte form of any record we sign or hash: sorted-key, compact, UTF-8 JSON."""
from __future__ import annotations

import json
from typing import Any


def canonical_bytes(record: dict[str, Any]) -> bytes:
    return json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")

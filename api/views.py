"""Plain JSON views of records, shared by routes (what a caller may see, never secrets or embeddings)."""
from __future__ import annotations

import base64
import json
from typing import Any

from consent.registry import VoiceStatus


def voice_view(status: VoiceStatus) -> dict[str, Any]:
    profile = status.profile
    view: dict[str, Any] = {"voice_id": status.voice_id, "status": status.status, "detail": status.detail or None}
    if profile is not None:
        view |= {"kind": profile.kind, "engine": profile.engine, "name": profile.display_name,
                 "licence": profile.licence, "scopes": list(profile.scopes), "created_at": profile.created_at,
                 "expires_at": profile.expires_at}
    return view


def provenance_headers(mark_id: int, entry: dict[str, Any] | None) -> dict[str, str]:
    """The mark id, and the signed ledger entry as base64url JSON (check it with the registry's
    public keys: `voicekit keys export-public`)."""
    headers = {"X-Voicekit-Mark-Id": f"{mark_id:08x}"}  # as `voicekit detect` and /v1/detect show it
    if entry is not None:
        headers["X-Voicekit-Ledger-Seq"] = str(entry["seq"])
        headers["X-Voicekit-Provenance"] = base64.urlsafe_b64encode(
            json.dumps(entry, sort_keys=True, separators=(",", ":")).encode()).decode()
    return headers

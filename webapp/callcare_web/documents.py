"""A call's documents out of the lake, and the turns as people read them.

The pipeline writes a transcript with the roles it guessed; a person may swap agent and customer
afterwards (an override kept in the web app's tables, never in the lake). Every reader of turns —
the detail page, the text download, the API — goes through `display_turns`, so they all show the
corrected roles the same way.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from typing import Any

from callcare.config import Settings
from callcare.core.lake import Lake

from callcare_web.errors import NotInLake

SWAPPED_ROLES = {"agent": "customer", "customer": "agent"}


@lru_cache(maxsize=4)
def lake_for(settings: Settings) -> Lake:
    """The settings' lake, built once: on S3 with their region, endpoint override and KMS key."""
    return Lake.from_settings(settings)


def read_document(settings: Settings, uri: str | None) -> dict[str, Any] | None:
    """The JSON document at `uri`; None when the call has none yet, NotInLake when the registry
    names one that the lake does not hold."""
    if not uri:
        return None
    lake = lake_for(settings)
    try:
        return lake.get_json(lake.key_from_uri(uri))
    except FileNotFoundError as exc:
        raise NotInLake(f"{uri.rsplit('/', 1)[-1]} is not in the lake") from exc


def swap_role(role: str | None, roles_swapped: bool) -> str | None:
    return SWAPPED_ROLES.get(role or "", role) if roles_swapped else role


def display_turns(transcript_doc: dict[str, Any] | None, roles_swapped: bool) -> list[dict[str, Any]]:
    if not transcript_doc:
        return []
    turns = []
    for i, turn in enumerate(transcript_doc.get("transcript", {}).get("turns", [])):
        turns.append(
            {
                "index": i,
                "speaker": turn.get("speaker"),
                "role": swap_role(turn.get("role") or "unknown", roles_swapped),
                "start": float(turn.get("start") or 0.0),
                "end": float(turn.get("end") or 0.0),
                "text": turn.get("text") or "",
                "redacted": bool(turn.get("redacted")),
            }
        )
    return turns


def display_transcript(transcript_doc: dict[str, Any], roles_swapped: bool) -> dict[str, Any]:
    """The stored document (words, confidences and all) with each turn's role as `display_turns` shows it."""
    if "transcript" not in transcript_doc:
        return transcript_doc
    stored = transcript_doc["transcript"].get("turns", [])
    shown = display_turns(transcript_doc, roles_swapped)
    turns = [{**turn, "role": view["role"]} for turn, view in zip(stored, shown, strict=True)]
    return {**transcript_doc, "transcript": {**transcript_doc["transcript"], "turns": turns}}


def transcript_text(turns: list[dict[str, Any]]) -> str:
    def stamp(seconds: float) -> str:
        return str(dt.timedelta(seconds=int(seconds)))

    return "\n".join(f"[{stamp(t['start'])}] {t['role']} ({t['speaker']}): {t['text']}" for t in turns) + "\n"

"""The local inbox: recordings dropped into a folder are landed in the lake and registered.

A file is taken only once it has stopped changing (a copy in progress is left for the next poll).
After landing, the original moves to `processed/` (or `rejected/` with a reason file beside it), so
nothing is deleted and the inbox shows only what is still to come.
"""

from __future__ import annotations

import logging
import re
import shutil
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from callcare.core.lake import Lake
from callcare.core.registry import NewCall, Registry
from callcare.ids import call_id_from_content, sha256_of_file
from callcare.lake_paths import raw_audio_key
from callcare.names import SUPPORTED_AUDIO_EXTENSIONS as SUPPORTED_EXTENSIONS

log = logging.getLogger(__name__)

PROCESSED = "processed"
REJECTED = "rejected"
SETTLE_S = 2.0
_DATE_IN_NAME = re.compile(r"(20\d{2})[-_]?(0[1-9]|1[0-2])[-_]?(0[1-9]|[12]\d|3[01])")


@dataclass(frozen=True)
class IngestOutcome:
    call_id: str | None
    file_name: str
    outcome: str  # "new", "duplicate" or "rejected"
    reason: str | None = None


def call_date_for(path: Path) -> str:
    """A date in the file name (recorders write one) wins; else the file's modification day (UTC)."""
    match = _DATE_IN_NAME.search(path.name)
    if match:
        try:
            return datetime(int(match[1]), int(match[2]), int(match[3])).date().isoformat()
        except ValueError:
            pass
    return datetime.fromtimestamp(path.stat().st_mtime, UTC).date().isoformat()


def pending_files(inbox: Path, settle_s: float = SETTLE_S) -> list[Path]:
    if not inbox.is_dir():
        return []
    now = time.time()
    files = []
    for path in sorted(inbox.iterdir()):
        if not path.is_file() or path.name.startswith("."):
            continue
        if now - path.stat().st_mtime < settle_s:
            continue
        files.append(path)
    return files


def _move(path: Path, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / path.name
    if target.exists():
        target = folder / f"{path.stem}-{int(time.time() * 1000)}{path.suffix}"
    shutil.move(str(path), target)
    return target


def size_cap_reason(size: int, max_bytes: int) -> str:
    """In bytes as well as MiB: rounded MiB alone can read "8 MiB; the limit is 8 MiB"."""
    return (
        f"the file is over the size cap: {size:,} bytes ({size / 2**20:.1f} MiB); "
        f"the limit is {max_bytes:,} bytes ({max_bytes / 2**20:.1f} MiB)"
    )


def _reject(path: Path, inbox: Path, reason: str) -> IngestOutcome:
    moved = _move(path, inbox / REJECTED)
    moved.with_name(moved.name + ".reason.txt").write_text(reason + "\n")
    return IngestOutcome(None, path.name, "rejected", reason)


def ingest_file(
    path: Path, inbox: Path, lake: Lake, registry: Registry, max_bytes: int | None = None
) -> IngestOutcome:
    ext = path.suffix.lower().lstrip(".")
    if ext not in SUPPORTED_EXTENSIONS:
        return _reject(path, inbox, f"not a supported audio format: .{ext or '(none)'}")
    size = path.stat().st_size
    if size == 0:
        return _reject(path, inbox, "the file is empty")
    if max_bytes is not None and size > max_bytes:
        return _reject(path, inbox, size_cap_reason(size, max_bytes))
    sha = sha256_of_file(path)
    call_id = call_id_from_content(sha)
    call_date = call_date_for(path)
    try:
        existing = registry.get(call_id)
    except KeyError:
        existing = None
    if existing is not None:
        _move(path, inbox / PROCESSED / existing["call_date"])
        return IngestOutcome(call_id, path.name, "duplicate")
    key = raw_audio_key(call_date, call_id, ext)
    audio_uri = lake.put_file(key, path)
    created = registry.register(
        NewCall(
            call_id=call_id,
            source="inbox",
            source_ref=path.name,
            content_sha256=sha,
            call_date=call_date,
            audio_uri=audio_uri,
            audio_format=ext,
            size_bytes=path.stat().st_size,
        )
    )
    _move(path, inbox / PROCESSED / call_date)
    return IngestOutcome(call_id, path.name, "new" if created else "duplicate")


def ingest_inbox(
    inbox: Path,
    lake: Lake,
    registry: Registry,
    settle_s: float = SETTLE_S,
    max_bytes: int | None = None,
) -> list[IngestOutcome]:
    outcomes = []
    for path in pending_files(inbox, settle_s):
        try:
            outcome = ingest_file(path, inbox, lake, registry, max_bytes)
        except OSError as exc:  # one unreadable file must not stop the others
            log.warning("could not ingest %s: %s", path.name, exc)
            continue
        log.info("inbox file %s: %s %s", path.name, outcome.outcome, outcome.call_id or outcome.reason)
        outcomes.append(outcome)
    return outcomes

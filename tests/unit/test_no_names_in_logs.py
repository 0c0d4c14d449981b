"""Security review L8 (pipeline side): recording file names stay out of the logs.

Recorders and people name files after the caller ("2026-09-02_+441632960123_jane-doe.wav"); task
logs are read far more widely than the registry. The inbox logs a fingerprint of the name (the file
itself is in processed/ or rejected/ under its name), the Drive source logs the file id.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from callcare.config import Settings
from callcare.core.context import Context
from callcare.core.lake import Lake
from callcare.core.registry import Registry
from callcare.sources.cursor import CursorStore
from callcare.sources.gdrive import DriveSource
from callcare.sources.inbox import ingest_inbox

from tests.support.helpers import drop_settled

PII = "+441632960123_jane-doe"


@contextmanager
def captured() -> Iterator[list[str]]:
    """Every message callcare's loggers emit, whatever the root logger's handlers are (the Drive
    source reads an Airflow connection, and Airflow configures logging when it first loads)."""
    lines: list[str] = []
    handler = logging.Handler(logging.DEBUG)
    handler.emit = lambda record: lines.append(record.getMessage())  # type: ignore[method-assign]
    logger = logging.getLogger("callcare")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        yield lines
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def test_inbox_logs_carry_no_file_names(ctx: Context) -> None:
    inbox = ctx.settings.inbox_dir
    drop_settled(inbox, f"2026-09-02_{PII}.wav", b"RIFF audio")
    drop_settled(inbox, f"{PII}.txt", b"notes")
    drop_settled(inbox, f"2026-09-02_{PII}-empty.wav", b"")
    with captured() as lines:
        outcomes = ingest_inbox(inbox, ctx.lake, ctx.registry)
    assert sorted(o.outcome for o in outcomes) == ["new", "rejected", "rejected"]
    assert len(lines) == 3 and not [line for line in lines if PII in line], lines


@pytest.fixture
def registry(tmp_path: Path) -> Registry:
    made = Registry(f"sqlite:///{tmp_path / 'registry.db'}")
    made.create_schema()
    CursorStore(made.engine).create_schema()
    return made


def test_drive_logs_carry_no_file_names(
    fake_drive, drive_connection, registry: Registry, tmp_path: Path
) -> None:
    folder = fake_drive.add_folder("recordings")
    locked = fake_drive.add_file(f"{PII}.wav", b"RIFF locked", "audio/wav", folder)
    fake_drive.change(locked, no_download="cannotDownloadFile")
    fake_drive.add_file(f"2026-09-02_{PII}-fine.wav", b"RIFF fine", "audio/wav", folder)
    settings = Settings(
        home=tmp_path,
        profile="aws",
        gdrive_folder_id=folder,
        gdrive_api_endpoint=fake_drive.url,
        gdrive_max_attempts=2,
    )
    source = DriveSource.from_settings(settings, Lake((tmp_path / "lake").as_uri()), registry)
    with captured() as lines:
        outcomes = [o.outcome for _ in range(2) for o in source.poll()]
    assert sorted(outcomes) == ["deferred", "given_up", "new"]
    assert any("given up after 2 polls" in line for line in lines), lines
    assert not [line for line in lines if PII in line], lines

"""Pipeline output to build the warehouse over: corpus calls processed in-process, and a failure.

Session-scoped, because speech-to-text takes 20-30 s a call on two cores: two corpus calls (stereo
16 kHz and 8 kHz mu-law, on different days) go through ingest, transcribe, summarize and publish
exactly as the DAG's tasks run them, and a corrupt recording ends FAILED through pipeline.fail()
plus the warehouse hook, as the processing DAG's failure path does.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from callcare.config import Settings
from callcare.core.context import CallFailed, Context
from callcare.sources.inbox import ingest_inbox
from callcare.steps import process as pipeline
from callcare.warehouse import dbt as warehouse

REPO = Path(__file__).resolve().parents[2]
CALLS = [
    ("call-0023.stereo.wav", "2026-09-14_call-0023.wav"),
    ("call-0047.8k.wav", "2026-09-15_call-0047.wav"),
]
CORRUPT = "2026-09-15_corrupt.wav"


def process(call_id: str, ctx: Context) -> None:
    try:
        for step in (pipeline.transcribe, pipeline.summarize, pipeline.publish):
            step(call_id, ctx)
    except CallFailed as exc:
        pipeline.fail(call_id, exc.reason, ctx)  # writes the FAILED call's rows too


@pytest.fixture(scope="session")
def pipeline_home(tmp_path_factory: pytest.TempPathFactory, corpus_audio: Path) -> Path:
    """A callcare home whose lake holds what the pipeline wrote for 2 completed calls and 1 FAILED."""
    home = tmp_path_factory.mktemp("pipeline-home")
    ctx = Context.create(Settings(home=home))
    ctx.registry.create_schema()
    ctx.settings.inbox_dir.mkdir(parents=True)
    for source, name in CALLS:
        shutil.copy(corpus_audio / source, ctx.settings.inbox_dir / name)
    (ctx.settings.inbox_dir / CORRUPT).write_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt " + b"\x00garbage" * 100)
    outcomes = ingest_inbox(ctx.settings.inbox_dir, ctx.lake, ctx.registry, settle_s=0)
    assert sorted(o.outcome for o in outcomes) == ["new", "new", "new"]
    for outcome in outcomes:
        process(outcome.call_id, ctx)
    return home


@pytest.fixture(scope="session")
def built_warehouse(pipeline_home: Path) -> Settings:
    """`dbt build` (seeds, models, data tests, unit tests) over the pipeline's lake, on DuckDB."""
    settings = Settings(home=pipeline_home)
    result = warehouse.run_dbt(settings, "build")
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    return settings


@pytest.fixture
def home_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., None]]:
    """Point this process's settings (what DAG tasks and the CLI read) at a home."""
    from callcare.config import reset_settings

    def use(home: Path, **settings: str) -> None:
        monkeypatch.setenv("CALLCARE_HOME", str(home))
        for name in ("CALLCARE_INBOX_DIR", "CALLCARE_LAKE_URI", "CALLCARE_REGISTRY_URL"):
            monkeypatch.delenv(name, raising=False)
        for name, value in settings.items():
            monkeypatch.setenv(f"CALLCARE_{name.upper()}", value)
        reset_settings()

    yield use
    reset_settings()


def run_sql(home: Path, query: str, **env: str) -> list[dict]:
    """`callcare sql --format json` in a subprocess, as an analyst runs it."""
    result = subprocess.run(
        [sys.executable, "-m", "callcare.dev.cli", "sql", query, "--format", "json", "--max-rows", "10000"],
        env={**os.environ, "CALLCARE_HOME": str(home), **env},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.fixture
def sql() -> Callable[..., list[dict]]:
    return run_sql

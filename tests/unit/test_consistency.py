"""`callcare check`: finds what a crash or a lost write leaves behind, and passes a clean lake."""

from __future__ import annotations

from datetime import date, timedelta

import pyarrow as pa
import pytest
import sqlalchemy as sa
from callcare.core.context import CallFailed, Context
from callcare.core.lake import Lake
from callcare.core.registry import call_events, calls
from callcare.dev import cli
from callcare.dev.consistency import check
from callcare.dev.samples import write_load_test_recording
from callcare.lake_paths import partition_prefix, raw_audio_key, table_key
from callcare.status import CallStatus
from callcare.steps import ingest
from callcare.steps import process as pipeline
from callcare.steps.compact import compact_before


def land(ctx: Context, name: str, content: bytes | None = None, seed: int = 0) -> str:
    from tests.support.helpers import drop_settled

    if content is None:
        content = write_load_test_recording(ctx.settings.home / name, seed=seed, seconds=4).read_bytes()
    drop_settled(ctx.settings.inbox_dir, name, content)
    ingest.land_inbox(ctx)
    return next(c["call_id"] for c in ctx.registry.list_calls() if c["source_ref"] == name)


def complete(ctx: Context, call_id: str) -> None:
    for step in (pipeline.transcribe, pipeline.summarize, pipeline.publish):
        step(call_id, ctx)


@pytest.fixture
def finished(instant_ctx: Context) -> tuple[Context, str, str]:
    """One COMPLETED call and one FAILED call, as the pipeline leaves them."""
    done = land(instant_ctx, "2026-10-03_ok.wav", seed=1)
    complete(instant_ctx, done)
    broken = land(instant_ctx, "2026-10-03_broken.wav", content=b"RIFF" + b"\x00" * 200)
    with pytest.raises(CallFailed):
        pipeline.transcribe(broken, instant_ctx)
    pipeline.fail(broken, "the recording could not be decoded (test)", instant_ctx)
    return instant_ctx, done, broken


def test_a_clean_lake_is_consistent(finished: tuple[Context, str, str]) -> None:
    ctx, _, _ = finished
    report = check(ctx.registry, ctx.lake, require_terminal=True)
    assert report.problems == []
    assert report.calls == 2
    assert report.by_status == {"COMPLETED": 1, "FAILED": 1}
    assert report.completed_events == 1
    assert report.events == 4 + 3  # UPLOADED..COMPLETED, and UPLOADED, TRANSCRIBING, FAILED


def test_a_missing_table_file_is_reported(finished: tuple[Context, str, str]) -> None:
    ctx, done, _ = finished
    call_date = ctx.registry.get(done)["call_date"]
    ctx.lake.delete(table_key("turns", call_date, done))
    assert check(ctx.registry, ctx.lake).problems == [
        f"{done}: no turns row (in {partition_prefix('turns', call_date)})"
    ]


def test_a_compacted_lake_is_consistent_even_with_a_killed_compactions_leftovers(
    finished: tuple[Context, str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Compacted files hold the rows; per-call copies a killed run left beside them count once."""
    ctx, done, _ = finished
    call_date = ctx.registry.get(done)["call_date"]
    with monkeypatch.context() as patched:  # compacted files written, nothing deleted yet
        patched.setattr(Lake, "delete_if_unchanged", lambda *_: False)
        compact_before(ctx.lake, date.fromisoformat(call_date) + timedelta(days=1))
    assert len(ctx.lake.list_keys(partition_prefix("calls", call_date))) == 3
    assert check(ctx.registry, ctx.lake, require_terminal=True).problems == []

    compact_before(ctx.lake, date.fromisoformat(call_date) + timedelta(days=1))
    assert len(ctx.lake.list_keys(partition_prefix("calls", call_date))) == 1
    assert check(ctx.registry, ctx.lake, require_terminal=True).problems == []


def test_a_call_emptied_after_its_day_was_compacted_is_read_as_empty(
    finished: tuple[Context, str, str],
) -> None:
    """A per-call file with no rows replaces the call's compacted rows, as it replaces a per-call one."""
    ctx, done, _ = finished
    call_date = ctx.registry.get(done)["call_date"]
    compact_before(ctx.lake, date.fromisoformat(call_date) + timedelta(days=1))
    # reprocessed into a transcript with no turns: its turns file holds none
    [compacted] = ctx.lake.list_keys(partition_prefix("turns", call_date))
    ctx.lake.write_parquet(table_key("turns", call_date, done), ctx.lake.read_parquet(compacted).slice(0, 0))

    assert check(ctx.registry, ctx.lake).problems == [
        f"{done}: no turns row (in {partition_prefix('turns', call_date)})"
    ]


def test_in_a_compacted_lake_missing_and_unknown_calls_are_reported(
    finished: tuple[Context, str, str],
) -> None:
    ctx, done, _ = finished
    call_date = ctx.registry.get(done)["call_date"]
    stranger = "c-00000000000000000000"
    turns = ctx.lake.read_parquet(table_key("turns", call_date, done))
    ctx.lake.delete(table_key("turns", call_date, done))
    ctx.lake.write_parquet(
        table_key("turns", call_date, stranger),
        turns.set_column(0, "call_id", pa.array([stranger] * turns.num_rows)),
    )
    compact_before(ctx.lake, date.fromisoformat(call_date) + timedelta(days=1))
    [compacted] = ctx.lake.list_keys(partition_prefix("turns", call_date))

    assert check(ctx.registry, ctx.lake).problems == [
        f"{done}: no turns row (in {partition_prefix('turns', call_date)})",
        f"{compacted}: rows of call {stranger!r}, which the registry does not know",
    ]


def test_lake_files_no_call_owns_are_reported(finished: tuple[Context, str, str]) -> None:
    ctx, _, _ = finished
    ctx.lake.put_bytes(raw_audio_key("2026-10-03", "c-00000000000000000000", "wav"), b"lost")
    problems = check(ctx.registry, ctx.lake).problems
    assert len(problems) == 1
    assert "no call 'c-00000000000000000000' in the registry" in problems[0]


def test_a_status_change_without_its_event_is_reported(finished: tuple[Context, str, str]) -> None:
    ctx, _, broken = finished
    with ctx.registry.engine.begin() as conn:  # what a write outside registry.transition would do
        conn.execute(calls.update().where(calls.c.call_id == broken).values(status="UPLOADED"))
    problems = check(ctx.registry, ctx.lake).problems
    assert f"{broken}: status UPLOADED, but the last event is FAILED" in problems


def test_a_second_completed_event_is_reported(finished: tuple[Context, str, str]) -> None:
    ctx, done, _ = finished
    last = list(ctx.registry.events(done))[-1]
    with ctx.registry.engine.begin() as conn:
        conn.execute(
            sa.insert(call_events).values(
                call_id=done,
                status="COMPLETED",
                previous_status="SUMMARIZING",
                payload_json="{}",
                created_at=last["created_at"],
            )
        )
    report = check(ctx.registry, ctx.lake)
    assert f"{done}: COMPLETED twice in attempt 1" in report.problems
    assert report.completed_events == 2


def test_unfinished_calls_count_only_when_asked(instant_ctx: Context) -> None:
    waiting = land(instant_ctx, "2026-10-03_waiting.wav", seed=2)
    assert check(instant_ctx.registry, instant_ctx.lake).problems == []
    assert check(instant_ctx.registry, instant_ctx.lake, require_terminal=True).problems == [
        f"{waiting}: still {CallStatus.UPLOADED}"
    ]


def test_the_command_exits_1_on_a_problem(
    finished: tuple[Context, str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    ctx, done, _ = finished
    assert cli.main(["check", "--finished"]) == 0
    assert "consistent" in capsys.readouterr().out
    ctx.lake.delete(ctx.lake.key_from_uri(ctx.registry.get(done)["summary_uri"]))
    assert cli.main(["check"]) == 1
    out = capsys.readouterr().out
    assert f"{done}: its summary" in out
    assert "1 problem(s)" in out

import os
from pathlib import Path

from callcare.core.context import Context
from callcare.sources.inbox import call_date_for, ingest_inbox


def drop(inbox: Path, name: str, data: bytes, age_s: float = 10) -> Path:
    from tests.support.helpers import drop_settled

    return drop_settled(inbox, name, data, age_s)


def test_new_file_is_landed_registered_and_moved(ctx: Context) -> None:
    inbox = ctx.settings.inbox_dir
    drop(inbox, "2026-09-02_call.wav", b"RIFF fake audio")
    [outcome] = ingest_inbox(inbox, ctx.lake, ctx.registry)
    assert outcome.outcome == "new"
    call = ctx.registry.get(outcome.call_id)
    assert call["status"] == "UPLOADED" and call["call_date"] == "2026-09-02"
    key = f"raw-audio/2026-09-02/{outcome.call_id}.wav"
    assert call["audio_uri"] == ctx.lake.uri_for(key)
    assert ctx.lake.get_bytes(key) == b"RIFF fake audio"
    assert not (inbox / "2026-09-02_call.wav").exists()
    assert (inbox / "processed" / "2026-09-02" / "2026-09-02_call.wav").exists()


def test_same_content_twice_is_one_call(ctx: Context) -> None:
    inbox = ctx.settings.inbox_dir
    drop(inbox, "a.wav", b"same bytes")
    first = ingest_inbox(inbox, ctx.lake, ctx.registry)
    drop(inbox, "b-renamed.wav", b"same bytes")
    second = ingest_inbox(inbox, ctx.lake, ctx.registry)
    assert [o.outcome for o in first + second] == ["new", "duplicate"]
    assert first[0].call_id == second[0].call_id
    assert len(ctx.registry.list_calls()) == 1
    assert [e["status"] for e in ctx.registry.events()] == ["UPLOADED"]


def test_non_audio_is_rejected_with_a_reason_and_kept(ctx: Context) -> None:
    inbox = ctx.settings.inbox_dir
    drop(inbox, "notes.txt", b"hello")
    [outcome] = ingest_inbox(inbox, ctx.lake, ctx.registry)
    assert outcome.outcome == "rejected" and ".txt" in outcome.reason
    assert (inbox / "rejected" / "notes.txt").read_bytes() == b"hello"
    assert "not a supported audio format" in (inbox / "rejected" / "notes.txt.reason.txt").read_text()
    assert ctx.registry.list_calls() == []


def test_files_still_being_written_wait_for_the_next_poll(ctx: Context) -> None:
    inbox = ctx.settings.inbox_dir
    drop(inbox, "copying.wav", b"partial", age_s=0)
    drop(inbox, ".hidden.wav", b"x")
    assert ingest_inbox(inbox, ctx.lake, ctx.registry) == []
    assert (inbox / "copying.wav").exists()


def test_call_date_from_name_or_mtime(tmp_path: Path) -> None:
    named = drop(tmp_path, "rec_20260902_1015.mp3", b"x")
    assert call_date_for(named) == "2026-09-02"
    unnamed = drop(tmp_path, "rec.mp3", b"x")
    os.utime(unnamed, (1767225600, 1767225600))  # 2026-01-01T00:00:00Z
    assert call_date_for(unnamed) == "2026-01-01"
    invalid = drop(tmp_path, "2026-02-31.mp3", b"x")
    assert call_date_for(invalid) != "2026-02-31"


def test_empty_and_oversized_files_are_rejected_with_reasons(ctx: Context) -> None:
    inbox = ctx.settings.inbox_dir
    drop(inbox, "empty.wav", b"")
    drop(inbox, "huge.wav", b"x" * 4096)
    drop(inbox, "fine.wav", b"y" * 100)
    outcomes = {o.file_name: o for o in ingest_inbox(inbox, ctx.lake, ctx.registry, max_bytes=1000)}
    assert outcomes["empty.wav"].outcome == "rejected" and "empty" in outcomes["empty.wav"].reason
    assert outcomes["huge.wav"].outcome == "rejected" and "limit" in outcomes["huge.wav"].reason
    assert outcomes["fine.wav"].outcome == "new"
    assert (inbox / "rejected" / "huge.wav").stat().st_size == 4096

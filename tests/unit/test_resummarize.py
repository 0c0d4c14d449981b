"""Re-summarizing: which calls, what is kept, what is replaced, and one call's failure staying its own."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from callcare.core.context import Context
from callcare.core.registry import CallNotFound, NewCall
from callcare.core.transcript import Transcript, Turn
from callcare.dag_tasks.resummarize import summarize_outcomes
from callcare.dev.cli import main
from callcare.lake_paths import raw_audio_key, summary_key, table_key, transcript_key
from callcare.status import CallStatus
from callcare.steps import process as pipeline
from callcare.steps import resummarize as rs
from callcare.summarization import schema
from callcare.summarization.base import SummaryFailed, SummaryResult, SummaryTransientError
from callcare.summarization.offline.analyzer import analyze
from callcare.transcription.metrics import compute_metrics

DIALOGUE = [
    ("agent", "Thank you for calling Northwind Energy, this is Maria. How can I help you today?"),
    (
        "customer",
        "Hi, I got a bill this month for three hundred twelve dollars, which is double what I normally pay.",
    ),
    ("agent", "I'm sorry about that. Can I have your account number please?"),
    ("customer", "Sure, it is seven seven two zero four one."),
    (
        "agent",
        "Thank you. The meter reading was estimated last month, so the bill was too high. "
        "I will correct the reading and issue a credit of one hundred fifty dollars.",
    ),
    ("customer", "Great, thank you. When will I see the credit?"),
    ("agent", "The credit will appear on your next bill within five business days. Anything else?"),
    ("customer", "No, that's all. Thanks for your help."),
]


def completed_call(ctx: Context, call_id: str, call_date: str, *, finish: bool = True) -> str:
    """A call taken through summarize and publish, from a transcript written as transcribe writes it."""
    ctx.registry.register(
        NewCall(
            call_id,
            "inbox",
            f"{call_id}.wav",
            "ab" * 32,
            call_date,
            ctx.lake.uri_for(raw_audio_key(call_date, call_id, "wav")),
            "wav",
            1000,
        )
    )
    ctx.registry.transition(call_id, CallStatus.TRANSCRIBING)
    turns = [
        Turn(speaker=f"ch_{int(role == 'customer')}", start=i * 5.0, end=i * 5.0 + 4.5, text=text, role=role)
        for i, (role, text) in enumerate(DIALOGUE)
    ]
    transcript = Transcript(call_id, "reference", len(turns) * 5.0, 2, turns)
    metrics = compute_metrics(transcript).to_dict()
    uri = ctx.lake.put_json(
        transcript_key(call_date, call_id), {"transcript": transcript.to_dict(), "metrics": metrics}
    )
    ctx.registry.update_fields(call_id, transcript_uri=uri, duration_s=transcript.duration_s, channels=2)
    if finish:
        pipeline.summarize(call_id, ctx)
        pipeline.publish(call_id, ctx)
    return call_id


class FakeBackend:
    """A summary backend that fails for good, or for now, on the calls it is told to."""

    name = "fake"

    def __init__(
        self, prompt_version: str = "v2", fail: set[str] | None = None, transient: set[str] | None = None
    ) -> None:
        self.prompt_version = prompt_version
        self.fail = fail or set()
        self.transient = transient or set()
        self.seen: list[str] = []

    def summarize(self, transcript: Transcript, call_date: str) -> SummaryResult:
        self.seen.append(transcript.call_id)
        if transcript.call_id in self.fail:
            raise SummaryFailed("the model refused to answer")
        if transcript.call_id in self.transient:
            raise SummaryTransientError("throttled")
        summary = {**analyze(transcript, call_date), "sentiment": "Negative", "category": "billing"}
        return SummaryResult(summary, self.name, "fake-model-1", self.prompt_version, 1200, 300, 0.0042)


@pytest.fixture
def v2_prompts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A prompts folder that also has a version 2 (the v1 contract under a new name)."""
    folder = tmp_path / "prompts"
    shutil.copytree(schema.prompts_dir(), folder)
    v2 = json.loads((folder / "summary_v1.schema.json").read_text())
    v2["$id"] = "urn:callcare:summary:v2"
    (folder / "summary_v2.schema.json").write_text(json.dumps(v2))
    monkeypatch.setattr(schema, "_DEFAULT_DIRS", (folder,))
    schema._validator.cache_clear()
    yield folder
    schema._validator.cache_clear()


def request(version: str = "v2", backend: str = "offline", make_current: bool = False) -> rs.Request:
    return rs.Request(version, backend, make_current)


def parquet_rows(ctx: Context, key: str) -> list[dict]:
    return pq.read_table(ctx.lake.path(key)).to_pylist()


def resummarized_events(ctx: Context, call_id: str) -> list[dict]:
    events = [e for e in ctx.registry.events(call_id) if e["previous_status"] == e["status"]]
    return [{**e, "payload": json.loads(e["payload_json"])} for e in events]


# -- selection ----------------------------------------------------------------------------------


def test_selection_takes_completed_calls_with_a_transcript_by_inclusive_date_range(ctx: Context) -> None:
    for call_id, day in [("c-01", "2026-09-01"), ("c-02", "2026-09-02"), ("c-03", "2026-09-03")]:
        completed_call(ctx, call_id, day)
    completed_call(ctx, "c-02-running", "2026-09-02", finish=False)  # still in progress: not touched
    completed_call(ctx, "c-02-failed", "2026-09-02", finish=False)
    ctx.registry.transition("c-02-failed", CallStatus.FAILED, error_message="no speech")

    assert rs.select_calls(ctx.registry, date_from="2026-09-02", date_to="2026-09-03") == ["c-02", "c-03"]
    assert rs.select_calls(ctx.registry, date_from="2026-09-02", date_to="2026-09-02") == ["c-02"]
    assert rs.select_calls(ctx.registry, date_from="2026-09-03") == ["c-03"]
    assert rs.select_calls(ctx.registry, date_to="2026-09-01") == ["c-01"]
    assert rs.select_calls(ctx.registry, all_calls=True) == ["c-01", "c-02", "c-03"]
    assert rs.select_calls(ctx.registry, date_from="2026-10-01") == []


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, "give a date range"),
        ({"date_from": "", "date_to": " "}, "give a date range"),
        ({"all_calls": True, "date_from": "2026-09-01"}, "not both"),
        ({"date_from": "2026-09-03", "date_to": "2026-09-01"}, "is after"),
        ({"date_from": "2026-02-30"}, "YYYY-MM-DD"),
        ({"date_to": "20260901"}, "YYYY-MM-DD"),
    ],
)
def test_selection_refuses_unclear_ranges(ctx: Context, kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        rs.select_calls(ctx.registry, **kwargs)


# -- versions -----------------------------------------------------------------------------------


def test_a_new_prompt_version_keeps_the_earlier_summary_and_row(ctx: Context, v2_prompts: Path) -> None:
    call_id = completed_call(ctx, "c-1", "2026-09-02")
    before = ctx.registry.get(call_id)
    v1_key = summary_key("2026-09-02", call_id, "v1")
    v1_bytes = ctx.lake.get_bytes(v1_key)

    outcome = rs.resummarize_call(call_id, ctx, request("v2"))

    assert outcome.ok and not outcome.current and not outcome.replaced
    assert ctx.lake.get_bytes(v1_key) == v1_bytes
    v2_key = summary_key("2026-09-02", call_id, "v2")
    assert outcome.summary_uri == ctx.lake.uri_for(v2_key)
    assert ctx.lake.get_json(v2_key)["prompt_version"] == "v2"
    assert ctx.lake.list_keys("summaries/2026-09-02") == sorted([v1_key, v2_key])
    # the pipeline's row stays; the new version gets a file beside it
    v1_row = parquet_rows(ctx, table_key("summaries", "2026-09-02", call_id))
    v2_row = parquet_rows(ctx, table_key("summaries", "2026-09-02", call_id, prompt_version="v2"))
    assert [r["prompt_version"] for r in v1_row + v2_row] == ["v1", "v2"]
    assert outcome.table_uri == ctx.lake.uri_for(table_key("summaries", "2026-09-02", call_id, "v2"))
    # v1 is the call's current version, so the app still shows the v1 summary
    after = ctx.registry.get(call_id)
    assert after["status"] == "COMPLETED"
    for field in ("summary_uri", "prompt_version", "summary_backend", "sentiment", "category"):
        assert after[field] == before[field], field
    [event] = resummarized_events(ctx, call_id)
    assert event["status"] == "COMPLETED"
    assert event["payload"]["event"] == "resummarized"
    assert event["payload"]["prompt_version"] == "v2" and event["payload"]["current"] is False
    assert "sentiment" not in event["payload"]


def test_make_current_moves_the_call_to_the_new_summary(ctx: Context, v2_prompts: Path) -> None:
    call_id = completed_call(ctx, "c-1", "2026-09-02")
    outcome = rs.resummarize_call(call_id, ctx, request("v2", "fake", make_current=True), FakeBackend("v2"))

    assert outcome.ok and outcome.current
    call = ctx.registry.get(call_id)
    assert call["status"] == "COMPLETED"
    assert call["summary_uri"] == outcome.summary_uri
    assert (call["prompt_version"], call["summary_backend"], call["model_id"]) == (
        "v2",
        "fake",
        "fake-model-1",
    )
    assert (call["sentiment"], call["category"], call["cost_usd"]) == ("Negative", "billing", 0.0042)
    [calls_row] = parquet_rows(ctx, table_key("calls", "2026-09-02", call_id))
    assert (calls_row["prompt_version"], calls_row["summary_backend"]) == ("v2", "fake")
    assert calls_row["agent_talk_s"] is not None  # metrics came along from the transcript document
    [event] = resummarized_events(ctx, call_id)
    assert event["payload"]["current"] is True and event["payload"]["sentiment"] == "Negative"
    # the v1 summary is still there for comparison
    assert ctx.lake.exists(summary_key("2026-09-02", call_id, "v1"))


def test_the_same_version_again_replaces_only_that_version(ctx: Context, v2_prompts: Path) -> None:
    call_id = completed_call(ctx, "c-1", "2026-09-02")
    rs.resummarize_call(call_id, ctx, request("v2"))
    v2_key = summary_key("2026-09-02", call_id, "v2")
    v2_before = ctx.lake.get_json(v2_key)

    # v1 again with another backend: the pipeline's v1 summary and row are overwritten, v2 is not
    outcome = rs.resummarize_call(call_id, ctx, request("v1", "fake"), FakeBackend("v1"))

    assert outcome.ok and outcome.replaced
    assert outcome.current  # v1 is the call's current version, so the call follows it
    v1_key = summary_key("2026-09-02", call_id, "v1")
    assert ctx.lake.get_json(v1_key)["backend"] == "fake"
    assert ctx.lake.get_json(v2_key) == v2_before
    assert ctx.lake.list_keys("tables/summaries/call_date=2026-09-02") == sorted(
        [
            table_key("summaries", "2026-09-02", call_id),
            table_key("summaries", "2026-09-02", call_id, prompt_version="v2"),
        ]
    )
    [v1_row] = parquet_rows(ctx, table_key("summaries", "2026-09-02", call_id))
    assert (v1_row["prompt_version"], v1_row["backend"]) == ("v1", "fake")
    call = ctx.registry.get(call_id)
    assert (call["summary_uri"], call["summary_backend"]) == (ctx.lake.uri_for(v1_key), "fake")
    assert [e["payload"]["replaced"] for e in resummarized_events(ctx, call_id)] == [False, True]


# -- failures -----------------------------------------------------------------------------------


def test_one_failing_call_does_not_stop_the_others(ctx: Context, v2_prompts: Path) -> None:
    ids = [completed_call(ctx, f"c-{i}", "2026-09-02") for i in range(1, 5)]
    before = {call_id: ctx.registry.get(call_id) for call_id in ids}
    backend = FakeBackend("v2", fail={"c-2"}, transient={"c-3"})

    outcomes = list(rs.resummarize_calls(ids, ctx, request("v2", "fake"), backend))

    assert backend.seen == ids
    assert [(o.call_id, o.ok) for o in outcomes] == [
        ("c-1", True),
        ("c-2", False),
        ("c-3", False),
        ("c-4", True),
    ]
    assert outcomes[1].reason == "summary failed: the model refused to answer"
    assert outcomes[2].reason == "SummaryTransientError: throttled"
    for call_id in ("c-2", "c-3"):
        # a failed re-summary leaves the call as it was: COMPLETED, no event, no new files
        assert ctx.registry.get(call_id) == before[call_id]
        assert resummarized_events(ctx, call_id) == []
        assert not ctx.lake.exists(summary_key("2026-09-02", call_id, "v2"))
    for call_id in ("c-1", "c-4"):
        assert ctx.lake.exists(summary_key("2026-09-02", call_id, "v2"))
        assert len(resummarized_events(ctx, call_id)) == 1


def test_transient_errors_raise_for_airflow_retries(ctx: Context, v2_prompts: Path) -> None:
    call_id = completed_call(ctx, "c-1", "2026-09-02")
    with pytest.raises(SummaryTransientError):
        rs.resummarize_call(call_id, ctx, request("v2", "fake"), FakeBackend("v2", transient={call_id}))


def test_calls_that_cannot_be_resummarized_say_why(ctx: Context, v2_prompts: Path) -> None:
    running = completed_call(ctx, "c-running", "2026-09-02", finish=False)
    lost = completed_call(ctx, "c-lost", "2026-09-02")
    ctx.lake.fs.delete_file(ctx.lake.path(transcript_key("2026-09-02", lost)))
    wrong = completed_call(ctx, "c-wrong", "2026-09-02")

    def reason(call_id: str, backend: FakeBackend | None = None) -> str | None:
        outcome = rs.resummarize_call(call_id, ctx, request("v2", "fake"), backend or FakeBackend("v2"))
        assert not outcome.ok
        return outcome.reason

    assert reason("c-unknown") == "no such call"
    assert "TRANSCRIBING" in reason(running)
    assert reason(lost) == "the transcript is missing from the lake"
    assert "wrote prompt v3" in reason(wrong, FakeBackend("v3"))
    assert ctx.registry.get(running)["status"] == "TRANSCRIBING"  # never marked FAILED


# -- request, registry, paths, report, command line ---------------------------------------------


def test_request_defaults_to_the_configured_backend_and_checks_the_version(
    ctx: Context, v2_prompts: Path
) -> None:
    assert rs.make_request(ctx.settings) == rs.Request("v1", "offline", False)
    assert rs.make_request(ctx.settings, "v2", "OFFLINE", True) == rs.Request("v2", "offline", True)
    with pytest.raises(ValueError, match="backend must be one of"):
        rs.make_request(ctx.settings, "v2", "gpt")
    with pytest.raises(ValueError, match="not available"):
        rs.make_request(ctx.settings, "v9", "offline")
    with pytest.raises(ValueError, match="not available"):  # an LLM needs the v2 prompt as well
        rs.make_request(ctx.settings, "v2", "bedrock")
    with pytest.raises(ValueError, match="prompt version must be"):
        rs.make_request(ctx.settings, "../v1", "offline")


def test_record_event_keeps_the_status_and_updates_fields_with_it(ctx: Context) -> None:
    call_id = completed_call(ctx, "c-1", "2026-09-02")
    events_before = len(list(ctx.registry.events(call_id)))

    status = ctx.registry.record_event(call_id, "resummarized", {"prompt_version": "v2"}, category="other")

    assert status == "COMPLETED"
    assert ctx.registry.get(call_id)["category"] == "other"
    events = list(ctx.registry.events(call_id))
    assert len(events) == events_before + 1
    last = events[-1]
    assert (last["status"], last["previous_status"], last["error_message"]) == (
        "COMPLETED",
        "COMPLETED",
        None,
    )
    assert json.loads(last["payload_json"]) == {"event": "resummarized", "prompt_version": "v2"}
    with pytest.raises(ValueError, match="not updatable"):
        ctx.registry.record_event(call_id, "resummarized", status="FAILED")
    with pytest.raises(CallNotFound):
        ctx.registry.record_event("nope", "resummarized")


def test_table_key_versions_only_the_summaries_table() -> None:
    assert table_key("summaries", "2026-09-02", "abc") == "tables/summaries/call_date=2026-09-02/abc.parquet"
    assert (
        table_key("summaries", "2026-09-02", "abc", prompt_version="v2")
        == "tables/summaries/call_date=2026-09-02/abc-v2.parquet"
    )
    with pytest.raises(ValueError, match="only the summaries table"):
        table_key("calls", "2026-09-02", "abc", prompt_version="v2")
    with pytest.raises(ValueError, match="not a prompt version"):
        table_key("summaries", "2026-09-02", "abc", prompt_version="v2/../x")


def test_the_report_counts_calls_that_left_no_outcome_as_failed() -> None:
    ok = {"call_id": "a", "ok": True, "current": True, "replaced": False}
    failure = {"call_id": "b", "ok": False, "reason": "summary failed: refused"}
    counts, failed = summarize_outcomes(["a", "b", "c"], [ok], [failure])
    assert counts == {"selected": 3, "ok": 1, "failed": 2, "made_current": 1, "replaced": 0}
    assert failed["b"] == "summary failed: refused"
    assert failed["c"].startswith("no outcome recorded")


def test_the_command_prints_each_outcome_and_a_total(
    ctx: Context, v2_prompts: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    completed_call(ctx, "c-1", "2026-09-01")
    completed_call(ctx, "c-2", "2026-09-02")
    completed_call(ctx, "c-3", "2026-09-03")

    code = main(["resummarize", "--from", "2026-09-02", "--to", "2026-09-03", "--prompt-version", "v2"])

    out = capsys.readouterr().out
    assert code == 0
    assert "with prompt v2 on offline" in out
    assert [line.split()[:2] for line in out.splitlines() if line.startswith(("ok", "FAILED"))] == [
        ["ok", "c-2"],
        ["ok", "c-3"],
    ]
    assert out.splitlines()[-1] == "total: 2 call(s), 2 ok, 0 failed"
    assert not ctx.lake.exists(summary_key("2026-09-01", "c-1", "v2"))

    assert main(["resummarize", "--prompt-version", "v2"]) == 2
    assert "give a date range" in capsys.readouterr().err

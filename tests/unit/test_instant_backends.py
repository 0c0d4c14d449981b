"""The instant engine and backend: the whole pipeline, minus recognition and summarizing."""

import numpy as np
import pytest
from callcare.core.context import CallFailed, Context
from callcare.sources.inbox import ingest_inbox
from callcare.steps import process as pipeline
from callcare.summarization.schema import validate_summary


def drop_wav(ctx: Context, name: str, samples: np.ndarray) -> str:
    import wave

    ctx.settings.inbox_dir.mkdir(parents=True, exist_ok=True)
    with wave.open(str(ctx.settings.inbox_dir / name), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(samples.astype("<i2").tobytes())
    [outcome] = ingest_inbox(ctx.settings.inbox_dir, ctx.lake, ctx.registry, settle_s=0)
    return outcome.call_id


def test_a_call_goes_through_every_step(instant_ctx: Context) -> None:
    t = np.arange(16000 * 3) / 16000
    speech = (6000 * np.sin(2 * np.pi * 220 * t)) * (np.sin(2 * np.pi * 0.5 * t) > 0)
    call_id = drop_wav(instant_ctx, "2026-10-01_a.wav", speech)
    for step in (pipeline.transcribe, pipeline.summarize, pipeline.publish):
        step(call_id, instant_ctx)
    call = instant_ctx.registry.get(call_id)
    assert call["status"] == "COMPLETED" and call["stt_engine"] == "instant"
    stored = instant_ctx.lake.get_json(instant_ctx.lake.key_from_uri(call["summary_uri"]))
    validate_summary(stored["summary"])
    assert stored["cost_usd"] == 0.0 and stored["summary"]["call_date"] == "2026-10-01"


def test_a_corrupt_file_still_fails_as_it_would(instant_ctx: Context) -> None:
    instant_ctx.settings.inbox_dir.mkdir(parents=True, exist_ok=True)
    (instant_ctx.settings.inbox_dir / "bad.wav").write_bytes(b"RIFF" + b"\x00" * 64)
    [outcome] = ingest_inbox(
        instant_ctx.settings.inbox_dir, instant_ctx.lake, instant_ctx.registry, settle_s=0
    )
    with pytest.raises(CallFailed, match="could not be decoded"):
        pipeline.transcribe(outcome.call_id, instant_ctx)


def test_the_instant_backend_is_refused_on_the_aws_profile(tmp_path) -> None:
    """Its canned "not summarized" output would replace real summaries in production: the aws
    profile refuses it with a reason, wherever it comes from (environment, Variable, resummarize)."""
    from callcare.config import Settings
    from callcare.summarization.choose import BACKENDS, backends_for, get_backend
    from callcare.summarization.instant import InstantBackend

    aws = Settings(home=tmp_path, profile="aws", summary_backend="instant")
    with pytest.raises(ValueError, match=r"instant summary backend .* refused on the aws profile"):
        get_backend(aws)
    with pytest.raises(ValueError, match="refused on the aws profile"):
        rs_request(aws)
    assert set(backends_for("aws")) == set(BACKENDS) - {"instant", "offline"}
    local = Settings(home=tmp_path, profile="local", summary_backend="instant")
    assert isinstance(get_backend(local), InstantBackend)  # benchmarks and tests keep it
    assert backends_for("local") == BACKENDS


def rs_request(settings):
    from callcare.steps.resummarize import make_request

    return make_request(settings, backend="instant")


def test_the_offline_analyzer_is_refused_on_the_aws_profile(tmp_path) -> None:
    """It needs requirements-local.txt (text2num), which MWAA does not install: chosen on aws it
    would fail every call it summarized, so the profile refuses it up front with the reason."""
    from callcare.config import Settings
    from callcare.summarization.choose import get_backend

    aws = Settings(home=tmp_path, profile="aws", summary_backend="offline")
    with pytest.raises(ValueError, match=r"local-only packages of requirements-local\.txt"):
        get_backend(aws)
    with pytest.raises(ValueError, match="local-only"):
        make_request_offline(aws)


def make_request_offline(settings):
    from callcare.steps.resummarize import make_request

    return make_request(settings, backend="offline")

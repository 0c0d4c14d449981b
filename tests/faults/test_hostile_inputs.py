"""Hostile recordings (security review M2, L9): each fails its own call with a reason, and no other.

Taken through the product's own path, in-process, as the DAG tasks call it: on the local profile
the inbox, `land_new_recordings` and the processing tasks (instant engine and backend: they still
decode the audio); on the aws profile `prepare_transcription` against an S3 lake on moto's server.
"""

from __future__ import annotations

import io
import tracemalloc
import wave
from collections.abc import Iterator
from pathlib import Path

import av
import numpy as np
import pytest
from airflow.sdk.exceptions import AirflowFailException
from callcare.config import reset_settings
from callcare.core.context import MAX_REASON, CallFailed, Context
from callcare.core.registry import NewCall
from callcare.dag_tasks import ingest as ingest_tasks
from callcare.dag_tasks import process as process_tasks
from callcare.hooks.settings import task_settings
from callcare.steps.amazon_transcribe import prepare_transcription
from callcare.transcription import audio

from tests.support.aws_fixtures import moto_lake_settings
from tests.support.helpers import drop_settled

HOUR = 3600
MiB = 2**20
DAY = "2026-10-06"


def flac(samples: np.ndarray, rate: int) -> bytes:
    """Mono int16 `samples` as FLAC, fed in blocks of 10 s (PyAV's encoder, as a recorder's would be)."""
    out = io.BytesIO()
    with av.open(out, "w", format="flac") as output:
        stream = output.add_stream("flac", rate=rate)
        stream.layout = "mono"
        frames = av.AudioResampler(format="s16", layout="mono", rate=rate)  # into the encoder's frame size
        block = 10 * rate
        for start in range(0, len(samples), block):
            frame = av.AudioFrame.from_ndarray(
                samples[None, start : start + block].copy(), format="s16", layout="mono"
            )
            frame.sample_rate, frame.pts = rate, start
            for packet in [p for f in frames.resample(frame) for p in stream.encode(f)]:
                output.mux(packet)
        for packet in [p for f in frames.resample(None) for p in stream.encode(f)] + list(
            stream.encode(None)
        ):
            output.mux(packet)
    return out.getvalue()


def talk(seconds: float, rate: int = 16000, pitch: float = 440.0) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (6000 * np.sin(2 * np.pi * pitch * t) * (np.sin(2 * np.pi * 0.5 * t) > 0)).astype(np.int16)


def talk_wav(seconds: float, pitch: float = 440.0) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(talk(seconds, pitch=pitch).tobytes())
    return out.getvalue()


def with_claimed_length(data: bytes, claimed_s: float, rate: int) -> bytes:
    """The FLAC with its STREAMINFO total-samples field (36 bits at byte 21) saying `claimed_s`."""
    patched = bytearray(data)
    assert patched[:4] == b"fLaC" and patched[4] & 0x7F == 0
    packed = int.from_bytes(patched[18:26], "big") & ~((1 << 36) - 1)
    patched[18:26] = (packed | int(claimed_s * rate)).to_bytes(8, "big")
    return bytes(patched)


def assert_readable(reason: str) -> None:
    assert reason and len(reason) <= MAX_REASON and "\n" not in reason, reason
    for noise in ("Traceback", "Errno", "NoneType", "<none>"):
        assert noise not in reason, reason


# -- the local profile: a decompression bomb in the inbox ------------------------------------------


@pytest.fixture
def local(callcare_home: Path, monkeypatch: pytest.MonkeyPatch) -> Context:
    """Settings as a task reads them; the duration cap is the default (3 h)."""
    for name, value in {
        "CALLCARE_STT_ENGINE": "instant",
        "CALLCARE_SUMMARY_BACKEND": "instant",
        "AIRFLOW_VAR_CALLCARE_SETTINGS": "{}",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("CALLCARE_MAX_DURATION_S", raising=False)
    reset_settings()
    ctx = Context.create(task_settings())
    ctx.settings.inbox_dir.mkdir(parents=True)
    return ctx


def process(call_id: str) -> str | None:
    """The local processing tasks in order: the one that failed the call for good, or None."""
    for step in (process_tasks.transcribe, process_tasks.summarize, process_tasks.publish):
        try:
            step(call_id)
        except AirflowFailException:
            return step.__name__
    return None


def test_a_decompression_bomb_fails_its_call_and_the_worker_goes_on(local: Context) -> None:
    """Two hours of FLAC silence: 1.3 MB, 220 MiB of PCM, under the 3 h cap. Before the fix the task
    held it three times over (and the engines more); now it is refused from its header."""
    bomb, good = f"{DAY}_hold-music.flac", f"{DAY}_good.wav"
    drop_settled(local.settings.inbox_dir, bomb, flac(np.zeros(2 * HOUR * 8000, np.int16), 8000))
    drop_settled(local.settings.inbox_dir, good, talk_wav(3.0))
    assert ingest_tasks.land_new_recordings() == {"new": 2, "duplicate": 0, "rejected": 0}
    calls = {call["source_ref"]: call["call_id"] for call in local.registry.list_calls()}
    assert local.settings.max_duration_s == 3 * HOUR

    tracemalloc.start()
    try:
        failed_at = process(calls[bomb])
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert failed_at == "transcribe"
    # a decode holds 220 MiB at least; the task's first run also imports its modules (~35 MiB)
    assert peak < 64 * MiB, f"peak {peak / MiB:.0f} MiB: the bomb was decoded"
    failed = local.registry.get(calls[bomb])
    assert failed["status"] == "FAILED" and failed["transcript_uri"] is None
    assert failed["error_message"].startswith("the recording expands too much when decoded: 219.7 MiB")
    assert_readable(failed["error_message"])
    assert process(calls[good]) is None  # the same worker, the next call
    assert local.registry.get(calls[good])["status"] == "COMPLETED"


# -- the aws profile: Transcribe bills the audio, not the header -------------------------------------


@pytest.fixture
def s3_ctx(tmp_path: Path, moto_server: str, dummy_aws: None) -> Iterator[Context]:
    settings = moto_lake_settings(
        moto_server, tmp_path, registry_url=f"sqlite:///{tmp_path / 'registry.db'}", max_duration_s=60
    )
    ctx = Context.create(settings)
    ctx.registry.create_schema()
    yield ctx


def register(ctx: Context, data: bytes, call_id: str) -> str:
    uri = ctx.lake.put_bytes(f"raw-audio/{DAY}/{call_id}.flac", data)
    ctx.registry.register(
        NewCall(call_id, "gdrive", f"F/{call_id}.flac", "0" * 64, DAY, uri, "flac", len(data))
    )
    return call_id


def test_a_header_that_understates_the_length_does_not_reach_transcribe(s3_ctx: Context) -> None:
    """The header says 10 s, the file holds 2 min, the cap is 1 min: refused before any job."""
    recording = with_claimed_length(flac(talk(120.0, 8000), 8000), 10.0, 8000)
    call_id = register(s3_ctx, recording, "c-0123456789abcdef0123")
    with pytest.raises(CallFailed) as refused:
        prepare_transcription(call_id, s3_ctx)
    assert str(refused.value) == "the recording is too long: it lasts more than 1 min; the limit is 1 min"
    assert s3_ctx.registry.get(call_id)["duration_s"] is None


def test_a_header_without_a_length_does_not_reach_transcribe(
    s3_ctx: Context, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(audio, "_declared_duration_s", lambda _container, _stream: None)
    call_id = register(s3_ctx, flac(talk(90.0, 8000), 8000), "c-1123456789abcdef0123")
    with pytest.raises(CallFailed, match="too long: it lasts more than 1 min"):
        prepare_transcription(call_id, s3_ctx)


def test_the_length_recorded_is_the_measured_one(s3_ctx: Context) -> None:
    recording = with_claimed_length(flac(talk(20.0, 8000), 8000), 5.0, 8000)
    call_id = register(s3_ctx, recording, "c-2123456789abcdef0123")
    prepared = prepare_transcription(call_id, s3_ctx)
    assert prepared["channels"] == 1
    assert s3_ctx.registry.get(call_id)["duration_s"] == pytest.approx(20.0, abs=0.01)

"""callcare.observability: the same metric reaches StatsD (Airflow's stats client), CloudWatch (moto),
or a structured log line, depending on what is configured."""

from __future__ import annotations

import json
import logging
import socket

import pytest
from callcare import observability as obs


@pytest.fixture(autouse=True)
def fresh_sinks():
    obs.reset()
    yield
    obs.reset()


def test_log_lines_when_nothing_is_configured(caplog, monkeypatch):
    monkeypatch.setattr(obs, "_airflow_stats_configured", lambda: False)
    with caplog.at_level(logging.INFO, logger="callcare.metrics"):
        obs.record_stage("c-1", "Transcribe", 12.5)
        code = obs.record_failure(
            "c-2", "the recording could not be decoded (bad header)", stage="transcribe"
        )
        obs.record_tokens("c-3", 1200, 300)
        obs.record_cost("c-3", 0.0042)
    lines = [
        json.loads(r.getMessage().split(" ", 1)[1]) for r in caplog.records if r.name == "callcare.metrics"
    ]
    assert lines[0] == {
        "metric": "StageSeconds",
        "value": 12.5,
        "unit": "Seconds",
        "Stage": "transcribe",
        "call_id": "c-1",
    }
    assert code == "decode"
    assert {
        "metric": "CallsFailed",
        "value": 1,
        "unit": "Count",
        "Reason": "decode",
        "call_id": "c-2",
    } in lines
    assert [line["value"] for line in lines if line["metric"] in ("InputTokens", "OutputTokens")] == [
        1200,
        300,
    ]
    assert [line["value"] for line in lines if line["metric"] == "CostUSD"] == [0.0042]


@pytest.mark.parametrize(
    ("reason", "code"),
    [
        ("the recording could not be decoded (EOF)", "decode"),
        ("no speech was recognized in the recording", "no_speech"),
        ("transcription failed: job FAILED", "transcription"),
        ("summary failed: not valid against the schema", "summary"),
        ("bedrock ThrottlingException: Too many requests", "throttled"),
        ("summarize failed: SummaryTransientError: bedrock ThrottlingException", "throttled"),
        ("the recording is too long: it lasts 120 min; the limit is 60 min", "too_long"),
        (None, "other"),
        ("something else entirely", "other"),
    ],
)
def test_failure_reasons_are_a_small_vocabulary(reason, code):
    assert obs.failure_reason_code(reason) == code


def test_statsd_through_airflows_stats_client(monkeypatch):
    pytest.importorskip("statsd", reason="the statsd client (apache-airflow's statsd extra) is not installed")
    from airflow.sdk.observability import stats
    from airflow.sdk.observability.metrics.stats_utils import get_stats_factory

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as server:
        server.bind(("127.0.0.1", 0))
        server.settimeout(5)
        monkeypatch.setenv("AIRFLOW__METRICS__STATSD_ON", "True")
        monkeypatch.setenv("AIRFLOW__METRICS__STATSD_HOST", "127.0.0.1")
        monkeypatch.setenv("AIRFLOW__METRICS__STATSD_PORT", str(server.getsockname()[1]))
        monkeypatch.setenv("AIRFLOW__METRICS__STATSD_PREFIX", "airflow")
        stats.initialize(factory=get_stats_factory(), export_legacy_names=False)
        try:
            obs.record_stage("c-1", "summarize", 1.5)
            obs.record_failure("c-2", "summary failed: invalid JSON")
            received = {server.recv(4096).decode() for _ in range(3)}
        finally:
            from airflow.sdk._shared.observability.metrics.base_stats_logger import NoStatsLogger

            stats.initialize(factory=NoStatsLogger, export_legacy_names=False)
    assert "airflow.callcare.stage_duration.summarize:1500.000000|ms" in received
    assert "airflow.callcare.calls.failed:1|c" in received
    assert "airflow.callcare.calls.failed.summary:1|c" in received


def test_statsd_switched_on_without_its_client_falls_back_to_log_lines(monkeypatch):
    import importlib.util

    monkeypatch.setenv("AIRFLOW__METRICS__STATSD_ON", "True")
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "statsd" else real(name, *a)
    )
    assert obs._airflow_stats_configured() is False


def test_cloudwatch_when_a_namespace_is_configured(monkeypatch):
    moto = pytest.importorskip("moto")
    import boto3

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setattr(obs, "_airflow_stats_configured", lambda: False)
    with moto.mock_aws():
        obs._sinks = obs._Sinks(
            statsd=False, cloudwatch_namespace="Callcare", environment="prod", region="eu-west-1"
        )
        obs.record_completed("c-1", processing_seconds=240.0)
        obs.record_throttle("Bedrock", "c-1")
        metrics = boto3.client("cloudwatch", region_name="eu-west-1").list_metrics(Namespace="Callcare")[
            "Metrics"
        ]
    found = {
        (m["MetricName"], tuple(sorted((d["Name"], d["Value"]) for d in m["Dimensions"]))) for m in metrics
    }
    assert ("CallsCompleted", (("Environment", "prod"),)) in found
    assert ("ProcessingSeconds", (("Environment", "prod"),)) in found
    assert ("Throttles", (("Environment", "prod"), ("Service", "bedrock"))) in found


def test_a_failing_sink_never_fails_the_call(monkeypatch, caplog):
    monkeypatch.setattr(obs, "_airflow_stats_configured", lambda: False)
    obs._sinks = obs._Sinks(
        statsd=False, cloudwatch_namespace="Callcare", environment="prod", region="eu-west-1"
    )

    def broken(*args, **kwargs):
        raise ConnectionError("no route")

    monkeypatch.setattr(obs, "_emit_cloudwatch", broken)
    with caplog.at_level(logging.INFO, logger="callcare.metrics"):
        obs.record_stage("c-1", "publish", 0.2)  # no exception
    messages = [r.getMessage() for r in caplog.records]
    assert any("PutMetricData failed" in m for m in messages)
    assert any(m.startswith("callcare.metric ") for m in messages)  # still visible as a log line


def test_processing_seconds_from_registry_timestamps():
    assert obs.processing_seconds("2026-01-01T10:00:00+00:00", "2026-01-01T10:04:00+00:00") == 240.0
    assert obs.processing_seconds(None) is None


def test_statsd_exporter_mapping_covers_every_name(monkeypatch):
    """infra/observability/statsd_mapping.yml turns each StatsD name we emit into a Prometheus metric."""
    import fnmatch
    from pathlib import Path

    import yaml

    sent: list[str] = []
    monkeypatch.setattr(obs, "_airflow_stats_configured", lambda: True)
    monkeypatch.setattr(
        obs, "_emit_stats", lambda kind, name, value, tags: sent.append(f"airflow.callcare.{name}")
    )
    obs.record_stage("c", "transcribe", 1)
    obs.record_completed("c", 10)
    obs.record_failure("c", "timeout")
    obs.record_tokens("c", 1, 1)
    obs.record_cost("c", 0.1)
    obs.record_throttle("bedrock")
    mapping = Path(__file__).resolve().parents[2] / "infra" / "observability" / "statsd_mapping.yml"
    patterns = [m["match"] for m in yaml.safe_load(mapping.read_text())["mappings"]]
    for name in sent:
        matches = [p for p in patterns if fnmatch.fnmatchcase(name, p) and p.count(".") == name.count(".")]
        assert matches, f"{name} has no statsd_exporter mapping"

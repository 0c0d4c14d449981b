"""Per-call pipeline metrics: seconds per stage, end-to-end processing time, tokens, cost, outcomes,
failures by reason, throttling.

One small API, three sinks, chosen from configuration:

* **Airflow's stats client** (StatsD, DogStatsD or OpenTelemetry, whichever `[metrics]` turns on):
  names under `callcare.` (Airflow adds its `statsd_prefix`), low-cardinality labels as tags. Locally,
  statsd-exporter turns them into a Prometheus endpoint (docs/OPERATIONS.md).
* **CloudWatch** (`PutMetricData`) when the settings name a namespace (`metrics_cloudwatch_namespace`;
  the MWAA environment sets it): MWAA forwards only Airflow's own metrics to CloudWatch, so ours are
  put there directly, with an `Environment` dimension, and feed the dashboard and alarms of infra/.
* **Structured log lines** (`callcare.metric {...json...}` on the `callcare.metrics` logger) when
  neither is configured, so a laptop run still shows every figure.

Metric values never carry transcript or summary text. The call id appears in log lines only: as a
label it would make every call its own time series.
A sink that fails is logged and skipped: recording a metric never fails a call.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import importlib.util
import json
import logging
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from callcare.names import (  # the names every sink and infra's alarms share
    CALLS_COMPLETED,
    CALLS_FAILED,
    COST_USD,
    INPUT_TOKENS,
    METRIC_NAMES,
    OUTPUT_TOKENS,
    PROCESSING_SECONDS,
    STAGE_SECONDS,
    STATSD_PREFIX,
    THROTTLES,
)

if TYPE_CHECKING:
    from callcare.config import Settings

__all__ = ["METRIC_NAMES", "configure", "record_completed", "record_failure", "stage_timer"]

log = logging.getLogger("callcare.metrics")

# Failure reasons as a short, fixed vocabulary (a label, so never free text).
_REASONS = (  # first match wins: throttling and length before the stage words they contain
    ("throttled", re.compile(r"throttl|too many requests|rate ?(limit ?)?exceeded|\b429\b", re.I)),
    ("too_long", re.compile(r"too long", re.I)),
    ("decode", re.compile(r"could not be decoded|decod|unsupported|corrupt", re.I)),
    ("no_speech", re.compile(r"no speech", re.I)),
    ("transcription", re.compile(r"transcri", re.I)),
    ("summary", re.compile(r"summar|schema|json", re.I)),
    ("timeout", re.compile(r"timed? ?out|timeout", re.I)),
    ("source", re.compile(r"drive|download|403|404|not found", re.I)),
)
_LABEL = re.compile(r"[^a-z0-9_]+")


def failure_reason_code(reason: str | None) -> str:
    """Map a CallFailed reason (or any error text) to one of a few labels; `other` when none fits."""
    for code, pattern in _REASONS:
        if reason and pattern.search(reason):
            return code
    return "other"


def _label(value: str) -> str:
    return _LABEL.sub("_", value.strip().lower()).strip("_") or "unknown"


@dataclass
class _Sinks:
    statsd: bool
    cloudwatch_namespace: str | None
    environment: str
    region: str | None
    client: Any = None
    lock: threading.Lock = field(default_factory=threading.Lock)


_sinks: _Sinks | None = None


# `[metrics]` switch -> the client library Airflow needs for it
_STATS_BACKENDS = {"statsd_datadog_enabled": "datadog", "statsd_on": "statsd", "otel_on": "opentelemetry.sdk"}


def _airflow_stats_configured() -> bool:
    """A stats backend is switched on and its client library is installed (Airflow would otherwise
    fall back to a no-op client, and the figures would be lost instead of logged)."""
    try:
        from airflow.sdk.configuration import conf
    except ImportError:  # not in an Airflow environment (the web app, scripts)
        return False
    for option, module in _STATS_BACKENDS.items():
        if conf.getboolean("metrics", option, fallback=False):
            if importlib.util.find_spec(module.split(".")[0]) is None:
                log.warning("callcare metrics: [metrics] %s is on but %s is not installed", option, module)
                return False
            return True
    return False


def configure(settings: Settings) -> None:
    """Choose the sinks from these settings; a task calls it with its task-side settings."""
    global _sinks
    _sinks = _sinks_for(settings)


def _sinks_for(settings: Settings) -> _Sinks:
    return _Sinks(
        statsd=_airflow_stats_configured(),
        cloudwatch_namespace=settings.metrics_cloudwatch_namespace or None,
        environment=settings.metrics_environment or settings.profile,
        region=settings.aws_region,
    )


def _configure() -> _Sinks:
    """The configured sinks; outside a task (CLI, scripts) they come from the environment's settings."""
    global _sinks
    if _sinks is None:
        from callcare.config import get_settings

        _sinks = _sinks_for(get_settings())
    return _sinks


def reset() -> None:
    """Forget the chosen sinks (tests, or after the settings changed)."""
    global _sinks
    _sinks = None


def _stats_module():
    from airflow.sdk._shared.observability.metrics import stats as stats_state
    from airflow.sdk.observability import stats

    # Inside a task the task runner has initialized the stats client; anywhere else, do it once here.
    if getattr(stats_state, "_factory", None) is None:
        from airflow.sdk.configuration import conf
        from airflow.sdk.observability.metrics.stats_utils import get_stats_factory

        stats.initialize(
            factory=get_stats_factory(),
            export_legacy_names=conf.getboolean("metrics", "legacy_names_on", fallback=True),
        )
    return stats


def _emit_stats(kind: str, name: str, value: float, tags: dict[str, str]) -> None:
    stats = _stats_module()
    stat = f"{STATSD_PREFIX}.{name}"
    if kind == "timing":
        stats.timing(stat, dt.timedelta(seconds=value), tags=tags or None)
    elif kind == "incr":
        stats.incr(stat, count=round(value), tags=tags or None)
    else:
        stats.gauge(stat, value, tags=tags or None)


def _emit_cloudwatch(sinks: _Sinks, datums: list[dict[str, Any]]) -> None:
    with sinks.lock:
        if sinks.client is None:
            import boto3

            sinks.client = boto3.client("cloudwatch", region_name=sinks.region)
        client = sinks.client
    now = dt.datetime.now(dt.UTC)
    for datum in datums:
        datum.setdefault("Timestamp", now)
    client.put_metric_data(Namespace=sinks.cloudwatch_namespace, MetricData=datums)


def _record(
    *,
    call_id: str | None,
    cloudwatch: list[tuple[str, float, str, dict[str, str]]],
    statsd: list[tuple[str, str, float, dict[str, str]]],
) -> None:
    """cloudwatch: (metric, value, unit, dimensions); statsd: (kind, name, value, tags)."""
    sinks = _configure()
    delivered = False
    if sinks.statsd:
        try:
            for kind, name, value, tags in statsd:
                _emit_stats(kind, name, value, tags)
            delivered = True
        except Exception as exc:  # a metrics outage must not fail the call
            log.warning("callcare metrics: the Airflow stats client failed (%s)", type(exc).__name__)
    if sinks.cloudwatch_namespace:
        datums = [
            {
                "MetricName": metric,
                "Value": float(value),
                "Unit": unit,
                "Dimensions": [
                    {"Name": "Environment", "Value": sinks.environment},
                    *({"Name": k, "Value": v} for k, v in dims.items()),
                ],
            }
            for metric, value, unit, dims in cloudwatch
        ]
        try:
            _emit_cloudwatch(sinks, datums)
            delivered = True
        except Exception as exc:
            log.warning("callcare metrics: CloudWatch PutMetricData failed (%s)", type(exc).__name__)
    if not delivered:
        for metric, value, unit, dims in cloudwatch:
            line = {"metric": metric, "value": value, "unit": unit, **dims}
            if call_id:
                line["call_id"] = call_id
            log.info("callcare.metric %s", json.dumps(line, sort_keys=True))


# -- the API ------------------------------------------------------------------------------------------


def record_stage(call_id: str, stage: str, seconds: float) -> None:
    """Wall time one pipeline stage (transcribe, summarize, publish, ...) took for one call."""
    stage = _label(stage)
    _record(
        call_id=call_id,
        cloudwatch=[(STAGE_SECONDS, seconds, "Seconds", {"Stage": stage})],
        statsd=[("timing", f"stage_duration.{stage}", seconds, {"stage": stage})],
    )


@contextlib.contextmanager
def stage_timer(call_id: str, stage: str) -> Iterator[None]:
    """`with stage_timer(call_id, "transcribe"): ...` records the stage's seconds, failed or not."""
    start = time.monotonic()
    try:
        yield
    finally:
        record_stage(call_id, stage, time.monotonic() - start)


def record_completed(call_id: str, processing_seconds: float | None = None) -> None:
    """A call reached COMPLETED; `processing_seconds` is upload to COMPLETED when known."""
    cloudwatch = [(CALLS_COMPLETED, 1, "Count", {})]
    statsd = [("incr", "calls.completed", 1, {})]
    if processing_seconds is not None:
        cloudwatch.append((PROCESSING_SECONDS, processing_seconds, "Seconds", {}))
        statsd.append(("timing", "processing_duration", processing_seconds, {}))
    _record(call_id=call_id, cloudwatch=cloudwatch, statsd=statsd)


def record_failure(call_id: str, reason: str | None, stage: str | None = None) -> str:
    """A call ended FAILED; returns the reason label the metric carries."""
    code = failure_reason_code(reason)
    dims = {"Reason": code}
    tags = {"reason": code}
    if stage:
        tags["stage"] = _label(stage)
    _record(
        call_id=call_id,
        cloudwatch=[(CALLS_FAILED, 1, "Count", {}), (CALLS_FAILED, 1, "Count", dims)],
        statsd=[("incr", "calls.failed", 1, tags), ("incr", f"calls.failed.{code}", 1, tags)],
    )
    return code


def record_tokens(call_id: str, input_tokens: int | None, output_tokens: int | None) -> None:
    """LLM tokens one summary used."""
    cloudwatch, statsd = [], []
    for metric, name, value in (
        (INPUT_TOKENS, "input", input_tokens),
        (OUTPUT_TOKENS, "output", output_tokens),
    ):
        if value:
            cloudwatch.append((metric, int(value), "Count", {}))
            statsd.append(("incr", f"tokens.{name}", int(value), {"direction": name}))
    if cloudwatch:
        _record(call_id=call_id, cloudwatch=cloudwatch, statsd=statsd)


def record_cost(call_id: str, usd: float | None) -> None:
    """Backend cost of one call in US dollars (StatsD counters are integers: micro-dollars there)."""
    if usd is None:
        return
    _record(
        call_id=call_id,
        cloudwatch=[(COST_USD, usd, "None", {})],
        statsd=[("incr", "cost_microusd", round(usd * 1_000_000), {})],
    )


def record_throttle(service: str, call_id: str | None = None) -> None:
    """An external API throttled one request of ours: `service` is one of names.THROTTLED_SERVICES,
    the Service dimension infra's throttling alarms read. Counted per throttled answer, whether or
    not a retry followed it."""
    service = _label(service)
    _record(
        call_id=call_id,
        cloudwatch=[(THROTTLES, 1, "Count", {"Service": service})],
        statsd=[("incr", f"throttles.{service}", 1, {"service": service})],
    )


def count_botocore_throttles(client: Any, service: str, call_id: str | None = None) -> Any:
    """Record a throttle for every throttled answer this boto3/botocore client gets; returns it.

    botocore's retry loop announces each attempt's outcome as the `needs-retry` event, and its own
    retry policy is one handler of it. This is another: it classifies the answer with botocore's
    ThrottledRetryableChecker (the throttling error codes botocore knows, LimitExceededException
    and ThrottlingException among them), so the count holds whatever retry mode the client has,
    and it returns None, which leaves the retry decision to botocore.
    """
    from botocore.retries.standard import RetryEventAdapter, ThrottledRetryableChecker

    adapter, throttled = RetryEventAdapter(), ThrottledRetryableChecker()

    def on_attempt(**kwargs: Any) -> None:
        if kwargs.get("response") is not None and throttled.is_retryable(
            adapter.create_retry_context(**kwargs)
        ):
            record_throttle(service, call_id)

    client.meta.events.register("needs-retry", on_attempt)
    return client


_GOOGLE_RETRY_LOGGER = "googleapiclient.http"
_GOOGLE_THROTTLED = {429, 403}  # the client retries a 403 only for a rate-limit reason


class _GoogleRetries(logging.Filter):
    """google-api-python-client retries a request with no hook but the warning it logs first,
    "Sleeping ... before retry ... after <status>", whose last argument is the status it got."""

    def __init__(self, service: str, call_id: str | None) -> None:
        super().__init__()
        self.service, self.call_id = service, call_id

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args if isinstance(record.args, tuple) else ()
        if str(record.msg).startswith("Sleeping") and args and args[-1] in _GOOGLE_THROTTLED:
            record_throttle(self.service, self.call_id)
        return True  # the warning itself goes on to the log as before


@contextlib.contextmanager
def google_api_throttles(service: str, call_id: str | None = None) -> Iterator[None]:
    """Within the block, record a throttle for each request a Google API client retries because
    it was throttled (429, or a rate-limit 403). A throttled answer after the client's last retry
    surfaces as the caller's error instead, for the caller to count."""
    logger = logging.getLogger(_GOOGLE_RETRY_LOGGER)
    counter = _GoogleRetries(service, call_id)
    logger.addFilter(counter)
    try:
        yield
    finally:
        logger.removeFilter(counter)


def processing_seconds(created_at: Any, completed_at: Any = None) -> float | None:
    """Seconds from `created_at` to `completed_at` (now when absent); None if unknown. Either is a
    datetime, an ISO 8601 string (the registry's) or epoch seconds (an AWS JSON body's)."""
    start = _as_datetime(created_at)
    if start is None:
        return None
    end = _as_datetime(completed_at) or dt.datetime.now(dt.UTC)
    return max(0.0, (end - start).total_seconds())


def _as_datetime(value: Any) -> dt.datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        parsed = value
    elif isinstance(value, int | float):  # epoch seconds, as AWS JSON bodies carry timestamps
        parsed = dt.datetime.fromtimestamp(value, dt.UTC)
    else:
        try:
            parsed = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError:
            return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)

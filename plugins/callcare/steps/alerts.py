"""SNS alerts: the registry's outbox, drained into a topic (aws profile).

Every status change is already an outbox row written in the same transaction as the change, so the
publisher only has to send rows it has not sent and mark them: a call can never complete without
its alert being sent eventually, and an SNS outage delays alerts instead of losing them. Delivery
is at least once (a crash between the publish and the mark sends that one event again); each
message carries `event_id` for consumers that must not act twice.

Only the events people are alerted on go out: a call COMPLETED or FAILED, and events recorded on a
finished call (re-summarized). Message attributes are what SNS subscription filter policies match
on (status, severity, sentiment, escalated, resolved, category, ...); booleans are the strings
"true"/"false", and an unknown value is left out rather than sent empty. Messages carry references
and labels only, never transcript or summary text (both hold PII).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import sqlalchemy as sa

from callcare.core.context import Context
from callcare.core.registry import Registry, call_events, calls
from callcare.status import CallStatus

log = logging.getLogger(__name__)

ALERT_STATUSES = (CallStatus.COMPLETED.value, CallStatus.FAILED.value)
SUBJECT_MAX = 100  # SNS's limit for email subjects


@dataclass(frozen=True)
class Facts:
    status: str
    sentiment: str | None
    resolved: bool | None
    escalated: bool | None


# (reason, rule): every rule that holds is named in the alert's `alert_reasons`
RULES: tuple[tuple[str, Callable[[Facts], bool]], ...] = (
    ("escalated", lambda f: f.status == CallStatus.COMPLETED and f.escalated is True),
    (
        "negative_unresolved",
        lambda f: f.status == CallStatus.COMPLETED and f.sentiment == "Negative" and f.resolved is False,
    ),
    ("processing_failed", lambda f: f.status == CallStatus.FAILED),
)


def severity(facts: Facts) -> tuple[str, list[str]]:
    """("critical" | "high" | "warning" | "info", the rules that matched).

    A customer left unhappy with nothing resolved, or a case handed up to a supervisor, is "high";
    both at once is "critical". A call the pipeline could not process is "warning" (operations,
    not supervisors, act on it). Everything else is "info".
    """
    reasons = [name for name, rule in RULES if rule(facts)]
    customer = {"escalated", "negative_unresolved"} & set(reasons)
    if len(customer) == 2:
        return "critical", reasons
    if customer:
        return "high", reasons
    if "processing_failed" in reasons:
        return "warning", reasons
    return "info", reasons


@dataclass(frozen=True)
class Alert:
    event_id: int
    call_id: str
    subject: str
    message: str
    attributes: dict[str, Any]


def _flag(value: Any) -> str | None:
    return None if value is None else ("true" if bool(value) else "false")


def build_alert(event: Mapping[str, Any], call: Mapping[str, Any]) -> Alert:
    """The SNS message of one outbox event. Labels come from the event's own snapshot when it has one."""
    payload = json.loads(event.get("payload_json") or "{}")

    def pick(name: str) -> Any:
        return payload[name] if payload.get(name) is not None else call.get(name)

    status = event["status"]
    facts = Facts(status, pick("sentiment"), pick("resolved"), pick("escalated"))
    level, reasons = severity(facts)
    kind = payload.get("event") or "status_changed"
    body = {
        "event_id": event["event_id"],
        "event": kind,
        "call_id": event["call_id"],
        "status": status,
        "previous_status": event.get("previous_status"),
        "occurred_at": _iso(event.get("created_at")),
        "call_date": call.get("call_date"),
        "severity": level,
        "alert_reasons": reasons,
        "sentiment": facts.sentiment,
        "resolved": facts.resolved,
        "escalated": facts.escalated,
        "category": pick("category"),
        "agent_id": pick("agent_id"),
        "duration_s": pick("duration_s"),
        "source": call.get("source"),
        "summary_uri": call.get("summary_uri"),
    }
    if status == CallStatus.FAILED:
        body["error_message"] = event.get("error_message") or call.get("error_message")
    attributes = {
        "status": status,
        "event": kind,
        "severity": level,
        "sentiment": facts.sentiment,
        "escalated": _flag(facts.escalated),
        "resolved": _flag(facts.resolved),
        "category": body["category"],
        "call_id": event["call_id"],
        "call_date": call.get("call_date"),
        "alert_reasons": reasons or None,
    }
    subject = f"[{level}] call {event['call_id']} {status}"
    if kind != "status_changed":
        subject += f" ({kind})"
    return Alert(
        event_id=int(event["event_id"]),
        call_id=event["call_id"],
        subject=subject[:SUBJECT_MAX],
        message=json.dumps(body, sort_keys=True, default=str),
        attributes={k: v for k, v in attributes.items() if v not in (None, "")},
    )


def _iso(value: Any) -> str | None:
    return value.isoformat() if hasattr(value, "isoformat") else value


def unpublished(registry: Registry, limit: int) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """(event, call) pairs still to publish, oldest first."""
    query = (
        sa.select(call_events, calls.c.call_date, calls.c.source, calls.c.summary_uri)
        .join(calls, calls.c.call_id == call_events.c.call_id)
        .where(call_events.c.published_at.is_(None), call_events.c.status.in_(ALERT_STATUSES))
        .order_by(call_events.c.event_id)
        .limit(limit)
    )
    with registry.engine.connect() as conn:
        rows = [dict(r) for r in conn.execute(query).mappings()]
    out = []
    for row in rows:
        call = {k: row.pop(k) for k in ("call_date", "source", "summary_uri")}
        call["error_message"] = row.get("error_message")
        out.append((row, call))
    return out


class Publisher(Protocol):
    def publish(self, alert: Alert) -> str: ...


class SnsPublisher:
    """Publishes through the amazon provider's SnsHook, so credentials come from the AWS connection."""

    def __init__(self, topic_arn: str, aws_conn_id: str | None = "aws_default", region: str | None = None):
        from airflow.providers.amazon.aws.hooks.sns import SnsHook

        if not topic_arn.startswith("arn:"):
            raise ValueError(f"sns_topic_arn must be a topic ARN, got {topic_arn!r}")
        self.topic_arn = topic_arn
        self.hook = SnsHook(aws_conn_id=aws_conn_id, region_name=region)

    def publish(self, alert: Alert) -> str:
        answer = self.hook.publish_to_target(
            target_arn=self.topic_arn,
            message=alert.message,
            subject=alert.subject,
            message_attributes=alert.attributes,
        )
        return answer["MessageId"]


def publish_pending(registry: Registry, publisher: Publisher, limit: int = 200) -> dict[str, int]:
    """Send unpublished alert events in order; each is marked as soon as SNS took it.

    A failure stops the run (the task retries later) and leaves that event and the ones after it
    unmarked, so the order of a call's alerts is kept.
    """
    counts: dict[str, int] = {}
    for event, call in unpublished(registry, limit):
        alert = build_alert(event, call)
        publisher.publish(alert)
        registry.mark_published([alert.event_id])
        level = alert.attributes["severity"]
        counts[level] = counts.get(level, 0) + 1
        log.info("alert for call %s published: %s (event %d)", alert.call_id, level, alert.event_id)
    return counts


def publish_alerts(ctx: Context) -> dict[str, int]:
    """The alerts DAG's step: the settings' topic, through the settings' AWS connection."""
    if not ctx.settings.sns_topic_arn:
        raise ValueError("sns_topic_arn is not set: the aws profile publishes alerts to an SNS topic")
    publisher = SnsPublisher(ctx.settings.sns_topic_arn, ctx.settings.aws_conn_id, ctx.settings.aws_region)
    return publish_pending(ctx.registry, publisher, ctx.settings.alerts_batch_size)

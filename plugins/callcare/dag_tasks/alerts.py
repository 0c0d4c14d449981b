"""Task body of callcare_alerts: drain the outbox's alert events into the SNS topic."""

from __future__ import annotations

from callcare.dag_tasks.runtime import parse_settings, task_context
from callcare.names import ALERTS_DAG_ID
from callcare.steps import alerts

__all__ = ["ALERTS_DAG_ID", "parse_settings", "publish_alerts"]


def publish_alerts() -> dict[str, int]:
    return alerts.publish_alerts(task_context())

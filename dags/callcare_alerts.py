"""Publishes call alerts to the SNS topic (aws profile): COMPLETED and FAILED calls from the outbox.

Each run sends the registry's unpublished alert events in order and marks each one sent, so an SNS
outage only delays alerts. Message attributes (status, severity, sentiment, escalated, resolved,
category) are there for subscription filter policies; the rules behind severity are in
plugins/callcare/steps/alerts.py. The local profile has no topic, so the DAG is not defined there.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import dag, task
from callcare.dag_tasks import alerts as tasks

if tasks.parse_settings().profile == "aws":

    @dag(
        dag_id=tasks.ALERTS_DAG_ID,
        schedule=timedelta(seconds=30),
        start_date=datetime(2026, 1, 1),
        catchup=False,
        max_active_runs=1,  # one publisher at a time keeps each call's alerts in order
        is_paused_upon_creation=False,
        tags=["callcare", "alerts"],
        default_args={"retries": 2, "retry_delay": timedelta(seconds=15)},
        doc_md=__doc__,
    )
    def callcare_alerts() -> None:
        @task(execution_timeout=timedelta(minutes=5))
        def publish_alerts() -> dict[str, int]:
            return tasks.publish_alerts()

        publish_alerts()

    callcare_alerts()

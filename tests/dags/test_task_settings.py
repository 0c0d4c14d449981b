"""Every task of every DAG reads its settings through the one task-side entry.

For each DAG the Airflow Variable `callcare_settings` names a registry connection and changes a
setting, and the connection points at a PostgreSQL registry that the environment knows nothing of
(the environment still names a SQLite file). The DAG's own task callables, taken from the parsed
DAG, must then write to and read from that PostgreSQL registry and follow the changed setting:
a task that read the environment alone would work on the SQLite file or on the default.
"""

from __future__ import annotations

import io
import json
import math
import struct
import wave
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from callcare.config import Settings, reset_settings
from callcare.core.registry import Registry
from callcare.status import CallStatus
from sqlalchemy.engine import make_url

REPO = Path(__file__).resolve().parents[2]
CONN_ID = "callcare_registry"


def tone(seconds: float = 1.0, rate: int = 16000) -> bytes:
    frames = b"".join(
        struct.pack("<h", int(8000 * math.sin(2 * math.pi * 440 * i / rate)))
        for i in range(int(seconds * rate))
    )
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(frames)
    return out.getvalue()


@pytest.fixture
def airflow_held(pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """Environment on the local defaults; the Variable and a connection say otherwise."""
    monkeypatch.setenv("CALLCARE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("CALLCARE_REGISTRY_URL", f"sqlite:///{tmp_path / 'env-registry.db'}")
    for name in ("CALLCARE_INBOX_DIR", "CALLCARE_LAKE_URI", "CALLCARE_PROFILE", "CALLCARE_REGISTRY_CONN_ID"):
        monkeypatch.delenv(name, raising=False)
    url = make_url(pg_url)
    conn = {
        "conn_type": "postgres",
        "host": url.host,
        "port": url.port,
        "login": url.username,
        "schema": url.database,
    }
    monkeypatch.setenv(f"AIRFLOW_CONN_{CONN_ID.upper()}", json.dumps(conn))
    state: dict[str, Any] = {"pg": Registry(pg_url), "env_registry": tmp_path / "env-registry.db"}

    def variable(**overrides: Any) -> None:
        monkeypatch.setenv(
            "AIRFLOW_VAR_CALLCARE_SETTINGS", json.dumps({"registry_conn_id": CONN_ID, **overrides})
        )

    state["variable"] = variable
    reset_settings()
    yield state
    state["pg"].engine.dispose()
    reset_settings()


def parsed(dag_file: str, dag_id: str) -> Any:
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(REPO / "dags" / dag_file))
    assert bag.import_errors == {}
    return bag.dags[dag_id]


def run(dag: Any, task_id: str, *args: Any, **kwargs: Any) -> Any:
    return dag.get_task(task_id).python_callable(*args, **kwargs)


def land_one(state: dict[str, Any], tmp_path: Path) -> str:
    """The ingest DAG's tasks land a recording from the Variable's inbox into the connection's registry."""
    from tests.support.helpers import drop_settled

    inbox = tmp_path / "variable-inbox"
    drop_settled(inbox, "2026-11-30_call.wav", tone())
    state["variable"](inbox_dir=str(inbox), stt_engine="instant", summary_backend="instant")
    dag = parsed("callcare_ingest.py", "callcare_ingest")
    assert run(dag, "land_new_recordings") == {"new": 1, "duplicate": 0, "rejected": 0}
    starts = run(dag, "calls_to_start", {"new": 1})
    assert len(starts) == 1
    assert run(dag, "mark_started", starts) == 1
    return starts[0]["conf"]["call_id"]


def process_locally(call_id: str) -> None:
    dag = parsed("callcare_process_call.py", "callcare_process_call")
    run(dag, "transcribe", params={"call_id": call_id})
    run(dag, "summarize", {"call_id": call_id})
    run(dag, "publish", {"call_id": call_id})


def test_ingest_tasks_use_the_variable_and_the_registry_connection(airflow_held, tmp_path):
    call_id = land_one(airflow_held, tmp_path)
    call = airflow_held["pg"].get(call_id)
    assert call["status"] == CallStatus.UPLOADED and call["dispatched_at"] is not None
    assert not airflow_held["env_registry"].exists()  # the environment's registry was never touched


def test_process_tasks_use_the_variable_and_the_registry_connection(airflow_held, tmp_path):
    call_id = land_one(airflow_held, tmp_path)
    process_locally(call_id)
    call = airflow_held["pg"].get(call_id)
    # the environment says pocketsphinx and the offline analyzer; the Variable said instant
    assert (call["status"], call["stt_engine"], call["summary_backend"]) == (
        "COMPLETED",
        "instant",
        "instant",
    )


def test_resummarize_tasks_use_the_variable_and_the_registry_connection(airflow_held, tmp_path):
    call_id = land_one(airflow_held, tmp_path)
    process_locally(call_id)
    airflow_held["variable"](summary_backend="instant", prompt_version="v1")
    dag = parsed("callcare_resummarize.py", "callcare_resummarize")
    assert run(dag, "select_calls", params={"all_calls": True}) == [call_id]
    outcome = run(dag, "resummarize_call", call_id, params={})
    assert outcome["ok"] and outcome["backend"] == "instant"
    payloads = [json.loads(e["payload_json"]) for e in airflow_held["pg"].events(call_id)]
    assert [p["backend"] for p in payloads if p.get("event") == "resummarized"] == ["instant"]


def test_warehouse_tasks_use_the_variable_and_the_registry_connection(airflow_held, tmp_path, airflow_db):
    from callcare.dag_tasks import warehouse as tasks

    call_id = land_one(airflow_held, tmp_path)
    process_locally(call_id)  # a call finished just now, in the connection's registry only
    # cosmos keeps its dbt-ls cache in Airflow Variables at parse time: a migrated metadata DB
    dag = parsed("callcare_warehouse.py", "callcare_warehouse")
    started = datetime.now(UTC)
    # the sensor's body is `tasks.settle(dag_run.start_date)`: quiet from the Variable, finished
    # calls from the connection's registry (the environment's registry has none, so it would settle)
    airflow_held["variable"](warehouse_quiet_s=3600)
    assert tasks.settle(started) is False
    airflow_held["variable"](warehouse_quiet_s=0)
    assert tasks.settle(started) is True
    assert run(dag, "marts_built")["target"] == "duckdb"
    assert not airflow_held["env_registry"].exists()


def test_alert_tasks_use_the_variable_and_the_registry_connection(airflow_held, tmp_path, monkeypatch):
    from callcare.steps import alerts

    call_id = land_one(airflow_held, tmp_path)
    process_locally(call_id)
    sent: list[tuple[str, str]] = []

    class RecordingPublisher:
        """Stands in for SNS: records which topic each alert went to."""

        def __init__(self, topic_arn: str, aws_conn_id: str | None = None, region: str | None = None):
            self.topic_arn = topic_arn

        def publish(self, alert: Any) -> str:
            sent.append((self.topic_arn, alert.attributes["call_id"]))
            return f"m-{len(sent)}"

    monkeypatch.setattr(alerts, "SnsPublisher", RecordingPublisher)
    monkeypatch.setenv("CALLCARE_PROFILE", "aws")  # the alerts DAG exists on the aws profile only
    reset_settings()
    topic = "arn:aws:sns:us-east-1:123456789012:from-the-variable"
    airflow_held["variable"](sns_topic_arn=topic)
    dag = parsed("callcare_alerts.py", "callcare_alerts")
    counts = run(dag, "publish_alerts")
    assert sum(counts.values()) == 1
    assert sent == [(topic, call_id)]


def test_the_variable_refuses_settings_that_only_take_effect_at_parse_time(airflow_held, tmp_path):
    from callcare.hooks.settings import PARSE_TIME_SETTINGS, task_settings

    assert Settings  # the names below are Settings fields
    for name in ("profile", "dbt_target", "transcribe_poll_interval_s", "lake_uri"):
        assert name in PARSE_TIME_SETTINGS
        airflow_held["variable"](**{name: "x"})
        with pytest.raises(ValueError, match=f"'{name}' cannot be changed by the Variable"):
            task_settings()

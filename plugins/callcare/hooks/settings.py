"""The one task-side settings entry: the environment, the `callcare_settings` Variable, the connections.

Every task of every DAG (and the Transcribe operator) builds its settings through `task_settings()`,
so a value an operator puts in the Variable or a connection reaches every task alike; on MWAA the
registry exists only as a connection, and a task that read the environment alone would run on a
default SQLite file. Kept out of `callcare.config` so that reading settings outside Airflow (the CLI,
the web app) never imports Airflow. Secrets stay in Airflow's connections, which MWAA reads from
Secrets Manager through its secrets backend; Airflow masks a connection's password in task logs once
it is read.

Some settings shape a DAG when its file is parsed, where no Variable is read (the DAG processor has
no task context, and a Variable lookup at parse time is a Secrets Manager call per parse). A task
could not follow a Variable that changed them without disagreeing with its own DAG, so the Variable
refuses them (`PARSE_TIME_SETTINGS`, listed in the README) instead of half applying them.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import fields
from typing import Any

from callcare.config import Settings
from callcare.names import SETTINGS_VARIABLE

# setting -> why it is fixed when the DAG files are parsed (set it in the environment: on MWAA the
# environment's Airflow configuration options, which the startup script exports)
PARSE_TIME_SETTINGS: dict[str, str] = {
    "profile": "the DAG files take their shape from it (Drive or inbox, Transcribe or offline)",
    "transcribe_poll_interval_s": "the Transcribe task's waiter delay is set when the DAG is parsed",
    "aws_conn_id": "the Transcribe task's connection is set when the DAG is parsed",
    "warehouse_max_wait_s": "the warehouse sensor's timeout is set when the DAG is parsed",
    "dbt_target": "cosmos renders the dbt task group for one target",
    "dbt_executable": "cosmos lists the dbt project with it when the DAG is parsed",
    "dbt_project_dir": "cosmos renders the dbt task group from this project",
    "warehouse_path": "dbt's tasks get their environment when the DAG is parsed",
    "glue_database": "dbt's tasks get their environment when the DAG is parsed",
    "athena_database": "dbt's tasks get their environment when the DAG is parsed",
    "athena_work_group": "dbt's tasks get their environment when the DAG is parsed",
    "athena_s3_staging_dir": "dbt's tasks get their environment when the DAG is parsed",
    "athena_s3_data_dir": "dbt's tasks get their environment when the DAG is parsed",
    "lake_uri": "dbt's tasks read the lake named when the DAG is parsed; the other tasks must agree",
    "aws_region": "dbt's tasks get their environment when the DAG is parsed; the other tasks must agree",
}


def task_settings(env: Mapping[str, str] | None = None) -> Settings:
    """The environment, overridden by the Variable's JSON object, with the registry connection resolved.

    One Variable holding a JSON object ({"gdrive_folder_id": "...", ...}) rather than one per field:
    on MWAA every Variable lookup is a Secrets Manager call, and a task reads settings once.
    `registry_conn_id`, when set, turns the registry's Airflow connection into `registry_url`, so its
    password never sits in the environment. Only call it from Airflow task code.
    """
    values = dict(os.environ if env is None else env)
    overrides = settings_variable()
    if overrides:
        values.update(variable_overrides(overrides, values))
        for key in [k for k, v in values.items() if v is None]:
            del values[key]
    settings = Settings.from_mapping(values)
    if settings.registry_conn_id:
        settings = settings.with_overrides(
            registry_url=registry_url_from_connection(settings.registry_conn_id)
        )
    return settings


def variable_overrides(overrides: Any, current: Mapping[str, str]) -> dict[str, Any]:
    """CALLCARE_* values from the Variable's object; null means back to the default (None here)."""
    if not isinstance(overrides, dict):
        raise ValueError(f"the Airflow Variable {SETTINGS_VARIABLE} must hold a JSON object")
    names = {f.name for f in fields(Settings)}
    out: dict[str, Any] = {}
    for name, value in overrides.items():
        if name in PARSE_TIME_SETTINGS:
            raise ValueError(
                f"{SETTINGS_VARIABLE}: {name!r} cannot be changed by the Variable: "
                f"{PARSE_TIME_SETTINGS[name]}. Set CALLCARE_{name.upper()} in the environment of "
                "every Airflow process instead (on MWAA: the callcare.* configuration options)."
            )
        if name not in names:
            raise ValueError(f"{SETTINGS_VARIABLE}: {name!r} is not a setting")
        key = f"CALLCARE_{name.upper()}"
        out[key] = None if value is None else value if isinstance(value, str) else json.dumps(value)
    return out


POSTGRES_TYPES = frozenset({"postgres", "postgresql"})
# libpq options worth carrying from the connection's extra into the URL (TLS, timeouts, naming)
URL_OPTIONS = ("sslmode", "sslrootcert", "connect_timeout", "application_name")


def settings_variable() -> Any:
    """The Variable's JSON value, or None when it does not exist."""
    from airflow.sdk import Variable

    return Variable.get(SETTINGS_VARIABLE, default=None, deserialize_json=True)


def registry_url_from_connection(conn_id: str) -> str:
    """SQLAlchemy URL of a postgres connection (psycopg2 driver), password included."""
    from airflow.sdk import BaseHook

    return registry_url_for(BaseHook.get_connection(conn_id), conn_id)


def registry_url_for(conn: Any, conn_id: str = "the registry connection") -> str:
    """The URL of a Connection object.

    An RDS-generated secret names the database `dbname`, a key the Secrets Manager backend does not
    map unless its backend_kwargs say `"extra_conn_words": {"schema": ["dbname"]}`; without it the
    connection arrives with no database, and this says so instead of connecting to a default one.
    """
    import sqlalchemy as sa

    if conn.conn_type not in POSTGRES_TYPES:
        raise ValueError(
            f"connection {conn_id!r} is a {conn.conn_type!r} connection; the registry needs postgres"
        )
    if not conn.schema:
        raise ValueError(f"connection {conn_id!r} names no database (its schema field)")
    extra = conn.extra_dejson
    url = sa.engine.URL.create(
        "postgresql+psycopg2",
        username=conn.login or None,
        password=conn.password or None,
        host=conn.host or None,
        port=conn.port or None,
        database=conn.schema,
        query={key: str(extra[key]) for key in URL_OPTIONS if key in extra},
    )
    return url.render_as_string(hide_password=False)

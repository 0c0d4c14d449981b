"""Where Airflow, rather than the environment, holds settings: one Variable and the registry's connection.

Kept apart from config.py so that reading settings outside Airflow (the CLI, the web app) never
imports Airflow. Secrets stay in Airflow's connections, which MWAA reads from Secrets Manager through
the Secrets Manager backend; Airflow masks a connection's password in task logs once it is read.
"""

from __future__ import annotations

from typing import Any

SETTINGS_VARIABLE = "callcare_settings"
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

"""Alembic's entry point for the web app's history (the configuration is in callcare_web.schema)."""

from callcare.core.migrator import run_env

from callcare_web import schema

run_env(schema.WEB, schema.target_metadata(), own_tables=schema.web_tables())

"""Alembic's entry point for the registry history (the configuration is in callcare.core.schema)."""

from callcare.core import schema
from callcare.core.migrator import run_env

run_env(schema.REGISTRY, schema.target_metadata())

"""Migrations of the registry, one file each; `callcare.core.schema` says how to add one."""

"""Migrations of the web app's tables, one file each; `callcare_web.schema` says how to add one."""

"""Thin Airflow operators and triggers around the callcare package (business logic lives elsewhere)."""

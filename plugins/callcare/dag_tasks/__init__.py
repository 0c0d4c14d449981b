"""The Airflow face the DAG files call: one module per DAG, plain functions, references in and out.

A DAG file imports from this package only (`from callcare.dag_tasks import process as tasks`) and
each of its tasks is one call into it. Every function builds its settings through the one task-side
entry (`callcare.hooks.settings.task_settings`), runs the step, and turns a permanent failure into a
FAILED call and a failed task.
"""

"""Task bodies and the cosmos configuration of callcare_warehouse (dbt build after bursts of calls)."""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path
from typing import Any

from callcare.config import Settings
from callcare.dag_tasks.assets import marts_asset, summaries_asset
from callcare.dag_tasks.runtime import parse_settings, task_context
from callcare.names import WAREHOUSE_DAG_ID
from callcare.warehouse.dbt import dbt_env, prepare
from callcare.warehouse.settle import settled

__all__ = [
    "WAREHOUSE_DAG_ID",
    "cosmos_kwargs",
    "marts_asset",
    "marts_built",
    "parse_settings",
    "settle",
    "summaries_asset",
]

log = logging.getLogger(__name__)


def settle(run_started_at: datetime) -> bool:
    """The first task: True once the burst of completions is over (see warehouse.settle.settled)."""
    ctx = task_context()
    settings = ctx.settings
    done = settled(ctx.registry, settings.warehouse_quiet_s, settings.warehouse_max_wait_s, run_started_at)
    if done:
        prepare(settings)
    else:
        log.info("calls are still finishing; waiting for %d s of quiet", settings.warehouse_quiet_s)
    return done


def marts_built() -> dict[str, str]:
    """Last task: what was built where (references only), and the marts asset as its outlet."""
    settings = task_context().settings
    where = str(settings.warehouse_path) if settings.dbt_target == "duckdb" else settings.athena_database
    return {"target": str(settings.dbt_target), "warehouse": where}


def cosmos_kwargs(settings: Settings) -> dict[str, Any]:
    """The configs of the warehouse DAG's DbtTaskGroup, so the DAG file stays wiring.

    ExecutionMode.LOCAL with dbt_executable_path is cosmos' MWAA recipe: a startup script builds
    dbt's virtualenv and every task runs that dbt as a subprocess. TestBehavior.BUILD makes each
    model one `dbt build --select model` task, so a failing data or unit test fails that model's
    task (and skips what depends on it) where the grid shows it. Parsing uses `dbt ls`, cached by
    cosmos per project checksum, so no manifest has to be kept in sync by hand.
    """
    from cosmos import ExecutionConfig, ProfileConfig, ProjectConfig, RenderConfig
    from cosmos.constants import ExecutionMode, InvocationMode, LoadMode, TestBehavior

    project = Path(str(settings.dbt_project_dir))
    env = dbt_env(settings)
    return {
        "project_config": ProjectConfig(dbt_project_path=project, env_vars=env, install_dbt_deps=False),
        "profile_config": ProfileConfig(
            profile_name="callcare",
            target_name=str(settings.dbt_target),
            profiles_yml_filepath=project / "profiles.yml",
        ),
        "execution_config": ExecutionConfig(
            execution_mode=ExecutionMode.LOCAL,
            invocation_mode=InvocationMode.SUBPROCESS,
            dbt_executable_path=str(settings.dbt_executable),
        ),
        "render_config": RenderConfig(
            load_method=LoadMode.DBT_LS,
            invocation_mode=InvocationMode.SUBPROCESS,
            dbt_executable_path=str(settings.dbt_executable),
            test_behavior=TestBehavior.BUILD,
            # a test of several models (relationships, reconciliations) gets a task of its own
            # after all of them; inside one model's build it would run before the others exist
            should_detach_multiple_parents_tests=True,
            # the DAG emits one asset for the marts; per-model assets would name DuckDB files
            emit_datasets=False,
        ),
    }

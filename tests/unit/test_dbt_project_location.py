"""Where the warehouse DAG finds the dbt project when it is not run from a checkout (MWAA)."""

from __future__ import annotations

from pathlib import Path

import pytest
from callcare import config


@pytest.fixture
def deployed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """plugins.zip unpacked into a plugins folder: no dbt/ beside the package, as on MWAA."""
    monkeypatch.setattr(config, "_REPO_ROOT", tmp_path / "plugins-root")
    monkeypatch.delenv("AIRFLOW__CORE__DAGS_FOLDER", raising=False)
    monkeypatch.delenv("CALLCARE_DBT_PROJECT_DIR", raising=False)
    return tmp_path


def test_the_project_is_in_the_dags_folder_airflow_is_configured_with(deployed, monkeypatch):
    monkeypatch.setenv("AIRFLOW_HOME", str(deployed / "airflow-home"))
    monkeypatch.setenv("AIRFLOW__CORE__DAGS_FOLDER", str(deployed / "synced-dags"))
    assert config._default_dbt_project_dir() == deployed / "synced-dags" / "dbt"


def test_the_dags_folder_defaults_to_airflow_home(deployed, monkeypatch):
    monkeypatch.setenv("AIRFLOW_HOME", str(deployed / "airflow-home"))
    assert config._default_dbt_project_dir() == deployed / "airflow-home" / "dags" / "dbt"


def test_without_airflow_home_it_is_mwaas_dags_folder(deployed, monkeypatch):
    monkeypatch.delenv("AIRFLOW_HOME", raising=False)
    assert config._default_dbt_project_dir() == Path(config.MWAA_DBT_PROJECT_DIR)

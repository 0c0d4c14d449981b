"""The separate environments DESIGN.md asks for exist and hold what they must."""

import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_dbt_has_its_own_environment_on_1_11_with_both_adapters() -> None:
    out = subprocess.run(
        [str(REPO / ".venv-dbt" / "bin" / "dbt"), "--version"], capture_output=True, text=True, check=True
    ).stdout
    assert "installed: 1.11." in out
    assert "duckdb" in out and "athena" in out


def test_airflow_environment_matches_mwaa_airflow_version() -> None:
    from importlib.metadata import version

    assert version("apache-airflow") == "3.3.1"
    assert version("apache-airflow-providers-amazon") == "9.34.0"
    assert version("apache-airflow-providers-google") == "22.3.0"
    assert version("apache-airflow-providers-standard") == "1.17.0"

"""The Athena target, checked without AWS: dbt parses and compiles it offline, and the SQL it compiles
to is Trino's, not DuckDB's.

`dbt compile` normally opens a connection to fill dbt's relation cache; with --no-populate-cache and
--no-introspect it needs none (no model runs a query at compile time on Athena: the DuckDB-only
file check in lake_source is dispatched away), so this runs in CI with no credentials and no network.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from callcare.config import Settings
from callcare.warehouse import dbt as warehouse

# DuckDB spellings that Athena (Trino) rejects or reads differently; each has a dispatched macro
DUCKDB_ONLY = {
    "postgres-style cast": r"::",
    "read_parquet": r"\bread_parquet\s*\(",
    "epoch()": r"\bepoch\s*\(",
    "len()": r"\blen\s*\(",
    "string_split()": r"\bstring_split\s*\(",
    "quantile_cont()": r"\bquantile_cont\s*\(",
    "regexp_matches()": r"\bregexp_matches\s*\(",
    "timezone()": r"\btimezone\s*\(",
    "QUALIFY": r"\bqualify\b",
    "strftime()": r"\bstrftime\s*\(",
    "glob()": r"\bglob\s*\(",
}
MART_PARTITIONS = {"fct_calls": ["month(call_date)"], "fct_turns": ["month(call_date)"]}


def compiled(settings: Settings, target_path: Path) -> dict:
    result = warehouse.run_dbt(
        settings,
        "compile",
        "--no-populate-cache",
        "--no-introspect",
        "--target-path",
        str(target_path),
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    return json.loads((target_path / "manifest.json").read_text())


@pytest.fixture(scope="module")
def athena(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, Path]:
    home = tmp_path_factory.mktemp("athena")
    settings = Settings(home=home, profile="aws", lake_uri="s3://callcare-lake/prod")
    assert settings.dbt_target == "athena"
    parsed = warehouse.run_dbt(settings, "parse", "--target-path", str(home / "parse"))
    assert parsed.returncode == 0, parsed.stdout[-4000:]
    return compiled(settings, home / "target"), home / "target"


def test_athena_sql_has_no_duckdb_dialect(athena: tuple[dict, Path]) -> None:
    _, target = athena
    files = sorted((target / "compiled" / "callcare").rglob("*.sql"))
    assert len(files) > 50  # models and tests
    offenders = []
    for path in files:
        sql = re.sub(r"--[^\n]*", "", path.read_text())  # comments may say anything
        offenders += [
            f"{path.name}: {name}" for name, pattern in DUCKDB_ONLY.items() if re.search(pattern, sql)
        ]
    assert offenders == []


def test_staging_reads_the_glue_tables(athena: tuple[dict, Path]) -> None:
    _, target = athena
    staging = target / "compiled" / "callcare" / "models" / "staging"
    for name in ("calls", "turns", "summaries", "metrics", "status_events"):
        model = "stg_call_metrics" if name == "metrics" else f"stg_{name}"
        sql = (staging / f"{model}.sql").read_text()
        assert f'"awsdatacatalog"."callcare_lake"."{name}"' in sql
        assert "cast(call_date as date)" in sql
        # each call from one file (compaction), compacted files told by their name alone
        assert "regexp_like(lake_rows.\"$path\", '/compacted-[0-9]{8}T[0-9]{12}Z[.]parquet$')" in sql
        assert "like '%/compacted-%'" not in sql
        # the day's latest generation an aggregate joined back, not a window over the whole day
        assert 'max(lake_rows."$path") as latest' in sql
        assert "over (partition by lake_rows.call_date)" not in sql


def test_athena_only_configs_stay_on_athena(athena: tuple[dict, Path], tmp_path: Path) -> None:
    manifest, _ = athena
    # parse, not compile: on DuckDB, compiling a staging model looks for lake files (a query)
    parsed = warehouse.run_dbt(Settings(home=tmp_path), "parse", "--target-path", str(tmp_path / "target"))
    assert parsed.returncode == 0, parsed.stdout[-4000:]
    local = json.loads((tmp_path / "target" / "manifest.json").read_text())
    for node_id, node in manifest["nodes"].items():
        if node["resource_type"] != "model":
            continue
        name, path = node["name"], node["original_file_path"]
        config, local_config = node["config"], local["nodes"][node_id]["config"]
        if path.startswith("models/marts/"):
            assert config["materialized"] == local_config["materialized"] == "table", name
            assert (config.get("table_type"), config.get("format")) == ("iceberg", "parquet"), name
            assert config.get("partitioned_by") == MART_PARTITIONS.get(name), name
        if path.startswith("models/staging/"):
            # a view over the Glue table on Athena; a table on DuckDB, so the files are read once
            assert (config["materialized"], local_config["materialized"]) == ("view", "table"), name
        for key in ("table_type", "format", "write_compression", "partitioned_by"):
            assert local_config.get(key) is None, f"{name}: {key} reached the DuckDB target"

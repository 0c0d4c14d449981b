"""The lake's catalog, generated from the pyarrow schemas in callcare.core.tables (the single source).

Two artefacts come out of it, both committed and both checked by tests to match the schemas:

- `dbt/glue/lake_tables.json`: Glue `TableInput`s (the body of glue:CreateTable/UpdateTable) with
  partition projection on call_date, so Athena needs no crawler and no MSCK REPAIR: a new day's
  partition is readable the moment its first file lands. The lake location is the placeholder
  `{{lake_uri}}` (infra substitutes the bucket/prefix); `table_inputs(lake_uri)` gives them filled.
- `dbt/models/staging/_lake__sources.yml`: the dbt source `lake` with every column, its description
  and its types, so dbt docs, the DuckDB fallback for a table with no files yet (macro
  lake_source) and Athena all see the same columns.

    python -m callcare.warehouse.glue_tables --write     # after changing a schema in callcare/tables.py
    python -m callcare.warehouse.glue_tables --check     # what the tests run: exit 1 when out of date
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
from pathlib import Path
from typing import Any

import pyarrow as pa
import yaml

from callcare.core.tables import LAKE_TABLES, PARTITION_KEY, LakeTable, description

LAKE_URI_PLACEHOLDER = "{{lake_uri}}"
# the first day partition projection enumerates; a query without a call_date filter lists every
# day from here to NOW, which is cheap (no S3 listing) but worth keeping close to the first call
PROJECTION_START = "2024-01-01"

_REPO = Path(__file__).resolve().parents[3]
GLUE_JSON = _REPO / "dbt" / "glue" / "lake_tables.json"
SOURCES_YML = _REPO / "dbt" / "models" / "staging" / "_lake__sources.yml"

_PARQUET_INPUT = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat"
_PARQUET_OUTPUT = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat"
_PARQUET_SERDE = "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"


def hive_type(t: pa.DataType) -> str:
    """The Glue/Athena DDL type Athena reads this Parquet type as."""
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return "string"
    if pa.types.is_int32(t):
        return "int"
    if pa.types.is_int64(t):
        return "bigint"
    if pa.types.is_float64(t):
        return "double"
    if pa.types.is_boolean(t):
        return "boolean"
    if pa.types.is_timestamp(t):
        return "timestamp"
    if pa.types.is_list(t):
        return f"array<{hive_type(t.value_type)}>"
    raise ValueError(f"no Glue type for {t}: add one here before using it in a lake table")


def duckdb_type(t: pa.DataType) -> str:
    """The type DuckDB's read_parquet gives this Parquet type (for typed empty tables)."""
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return "varchar"
    if pa.types.is_int32(t):
        return "integer"
    if pa.types.is_int64(t):
        return "bigint"
    if pa.types.is_float64(t):
        return "double"
    if pa.types.is_boolean(t):
        return "boolean"
    if pa.types.is_timestamp(t):
        return "timestamp with time zone" if t.tz else "timestamp"
    if pa.types.is_list(t):
        return f"{duckdb_type(t.value_type)}[]"
    raise ValueError(f"no DuckDB type for {t}")


def _data_columns(table: LakeTable) -> list[pa.Field]:
    return [f for f in table.schema if f.name != PARTITION_KEY]


def table_input(table: LakeTable, lake_uri: str = LAKE_URI_PLACEHOLDER) -> dict[str, Any]:
    location = f"{lake_uri.rstrip('/')}/tables/{table.name}/"
    partition = table.schema.field(PARTITION_KEY)
    return {
        "Name": table.name,
        "Description": table.description,
        "TableType": "EXTERNAL_TABLE",
        "Parameters": {
            "EXTERNAL": "TRUE",
            "classification": "parquet",
            "parquet.compression": "ZSTD",
            "projection.enabled": "true",
            f"projection.{PARTITION_KEY}.type": "date",
            f"projection.{PARTITION_KEY}.format": "yyyy-MM-dd",
            f"projection.{PARTITION_KEY}.range": f"{PROJECTION_START},NOW",
            f"projection.{PARTITION_KEY}.interval": "1",
            f"projection.{PARTITION_KEY}.interval.unit": "DAYS",
            "storage.location.template": f"{location}{PARTITION_KEY}=${{{PARTITION_KEY}}}/",
        },
        # the partition is a string in the path; staging casts it to a date
        "PartitionKeys": [{"Name": PARTITION_KEY, "Type": "string", "Comment": description(partition)}],
        "StorageDescriptor": {
            "Columns": [
                {"Name": f.name, "Type": hive_type(f.type), "Comment": description(f)}
                for f in _data_columns(table)
            ],
            "Location": location,
            "InputFormat": _PARQUET_INPUT,
            "OutputFormat": _PARQUET_OUTPUT,
            "SerdeInfo": {
                "SerializationLibrary": _PARQUET_SERDE,
                "Parameters": {"serialization.format": "1"},
            },
            "Compressed": True,
            "StoredAsSubDirectories": False,
        },
    }


def table_inputs(lake_uri: str = LAKE_URI_PLACEHOLDER) -> list[dict[str, Any]]:
    """Every lake table's Glue TableInput; give the lake's s3:// URI to get them ready to apply."""
    if lake_uri != LAKE_URI_PLACEHOLDER and not lake_uri.startswith("s3://"):
        raise ValueError(f"Athena reads s3:// locations only, not {lake_uri!r}")
    return [table_input(t, lake_uri) for t in LAKE_TABLES.values()]


def fill_lake_uri(inputs: list[dict[str, Any]], lake_uri: str) -> list[dict[str, Any]]:
    """The committed JSON's placeholder replaced, for consumers that read the file (infra)."""
    text = json.dumps(inputs).replace(LAKE_URI_PLACEHOLDER, lake_uri.rstrip("/"))
    return copy.deepcopy(json.loads(text))


def glue_json() -> str:
    return json.dumps(table_inputs(), indent=2, sort_keys=False) + "\n"


def dbt_sources() -> dict[str, Any]:
    tables = []
    for t in LAKE_TABLES.values():
        tables.append(
            {
                "name": t.name,
                "description": f"{t.description} Grain: {', '.join(t.grain)}.",
                # what one write replaces whole: readers take each unit from one file (lake_generations)
                "meta": {"file_unit": list(t.unit)},
                "columns": [
                    {
                        "name": f.name,
                        "description": description(f),
                        "data_type": hive_type(f.type) if f.name != PARTITION_KEY else "string",
                        "meta": {"duckdb_type": duckdb_type(f.type)},
                    }
                    for f in t.schema
                ],
            }
        )
    return {
        "version": 2,
        "sources": [
            {
                "name": "lake",
                "description": (
                    "The lake's Parquet tables, Hive-partitioned by call_date, written by the processing "
                    "pipeline (callcare.core.tables). On Athena they are Glue tables with partition projection; "
                    "on DuckDB, read_parquet over CALLCARE_LAKE_DIR."
                ),
                "schema": "{{ env_var('CALLCARE_GLUE_DATABASE', 'callcare_lake') }}",
                "meta": {
                    "external_location": (
                        "read_parquet('{{ env_var('CALLCARE_LAKE_DIR', '../var/lake') }}/tables/{name}/*/*.parquet', "
                        "hive_partitioning = true, union_by_name = true, filename = true)"
                    )
                },
                "tables": tables,
            }
        ],
    }


def sources_yaml() -> str:
    header = "# Generated by `python -m callcare.warehouse.glue_tables --write` from plugins/callcare/core/tables.py: do not edit.\n"
    return header + yaml.safe_dump(dbt_sources(), sort_keys=False, width=120, allow_unicode=True)


def outputs() -> dict[Path, str]:
    return {GLUE_JSON: glue_json(), SOURCES_YML: sources_yaml()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m callcare.warehouse.glue_tables", description=__doc__.split("\n")[0]
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--write", action="store_true", help="rewrite the generated files")
    mode.add_argument("--check", action="store_true", help="exit 1 when a generated file is out of date")
    parser.add_argument("--lake-uri", help="print the Glue TableInputs for this s3:// lake")
    args = parser.parse_args(argv)
    if args.lake_uri:
        print(json.dumps(table_inputs(args.lake_uri), indent=2))
        return 0
    stale = [path for path, text in outputs().items() if not path.is_file() or path.read_text() != text]
    if args.write:
        for path, text in outputs().items():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
            print(f"wrote {path.relative_to(_REPO)}")
        return 0
    for path in stale:
        print(
            f"out of date: {path.relative_to(_REPO)} (run python -m callcare.warehouse.glue_tables --write)"
        )
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())

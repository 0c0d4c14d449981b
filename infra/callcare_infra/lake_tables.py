"""The lake's Glue tables, as callcare.warehouse.glue_tables generates them from the pyarrow schemas of
plugins/callcare/core/tables.py (the single source of truth).

callcare.warehouse.glue_tables writes `dbt/glue/lake_tables.json` (Glue TableInputs with partition projection on
call_date, the lake location as the placeholder `{{lake_uri}}`) and its tests fail when that file
drifts from the schemas. Infra reads the committed file, so synth needs neither pyarrow nor the
Airflow environment, and fills in the lake bucket.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
GLUE_JSON = REPO / "dbt" / "glue" / "lake_tables.json"
LAKE_URI_PLACEHOLDER = "{{lake_uri}}"  # callcare.warehouse.glue_tables.LAKE_URI_PLACEHOLDER


def table_inputs(lake_uri: str, path: Path = GLUE_JSON) -> list[dict[str, Any]]:
    """The committed TableInputs with the lake's s3:// URI (a CDK token string is fine) filled in."""
    text = path.read_text()
    if LAKE_URI_PLACEHOLDER not in text:
        raise ValueError(f"{path} has no {LAKE_URI_PLACEHOLDER} placeholder: regenerate it")
    return json.loads(text.replace(LAKE_URI_PLACEHOLDER, lake_uri.rstrip("/")))

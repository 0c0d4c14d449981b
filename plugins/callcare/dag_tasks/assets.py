"""The Airflow assets that tie the processing DAG to the warehouse DAG (names in `callcare.names`)."""

from __future__ import annotations

from airflow.sdk import Asset

from callcare.names import MARTS_ASSET_NAME, MARTS_ASSET_URI, SUMMARIES_ASSET_NAME, SUMMARIES_ASSET_URI


def summaries_asset() -> Asset:
    """Updated by publish (outlet of the processing DAG's publish task); schedules the warehouse DAG."""
    return Asset(name=SUMMARIES_ASSET_NAME, uri=SUMMARIES_ASSET_URI)


def marts_asset() -> Asset:
    """Updated by the warehouse DAG once the marts are rebuilt and tested (SPICE refreshes, app caches)."""
    return Asset(name=MARTS_ASSET_NAME, uri=MARTS_ASSET_URI)

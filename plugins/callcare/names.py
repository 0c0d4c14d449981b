"""Names that more than one deployment unit must agree on, each written once.

The DAG files, the Airflow task layer, the CDK app (alarms, MWAA options), the web app and the tests
all refer to DAG ids, pools, assets, lake tables and metric names. A name spelled twice drifts, so
they live here, in a module that imports nothing: infra and the web app install `callcare` without
its dependencies and can still import it.
"""

from __future__ import annotations

# -- DAGs -----------------------------------------------------------------------------------------
INGEST_DAG_ID = "callcare_ingest"
PROCESS_DAG_ID = "callcare_process_call"
ALERTS_DAG_ID = "callcare_alerts"
RESUMMARIZE_DAG_ID = "callcare_resummarize"
WAREHOUSE_DAG_ID = "callcare_warehouse"
COMPACT_DAG_ID = "callcare_compact"
DAG_IDS = (INGEST_DAG_ID, PROCESS_DAG_ID, ALERTS_DAG_ID, RESUMMARIZE_DAG_ID, WAREHOUSE_DAG_ID, COMPACT_DAG_ID)
# the DAGs whose failures page an operator (infra's alarms watch these)
WATCHED_DAG_IDS = (INGEST_DAG_ID, PROCESS_DAG_ID)


def process_run_id(call_id: str, attempt: int) -> str:
    """The processing run of one attempt at one call: the Airflow UI shows the call in the run id."""
    return f"call__{call_id}__a{attempt}"


# -- pools: one per external quota, one for CPU-bound local speech-to-text ------------------------
LOCAL_STT_POOL = "callcare_local_stt"
TRANSCRIBE_POOL = "callcare_transcribe"
BEDROCK_POOL = "callcare_bedrock"
# Every pool of every deployment, in the shape of Airflow's `airflow pools import` file (name -> slots,
# description, include_deferred); with the name added, each is the body of the REST API's POST /pools.
# The local stack imports them (callcare.dev.local_stack) and `scripts/deploy.sh <env> pools` applies
# them to MWAA, so both run with the same pools. include_deferred: a deferred task keeps its slot. The
# Transcribe task waits for its job deferred, in the triggerer; without it the pool would count only
# the seconds spent starting jobs, and would not bound the jobs running against the account's quota.
POOLS: dict[str, dict[str, int | str | bool]] = {
    LOCAL_STT_POOL: {
        "slots": 2,
        "description": "CPU-bound offline speech-to-text: one slot per core",
        "include_deferred": True,
    },
    TRANSCRIBE_POOL: {
        "slots": 20,
        "description": "concurrent Amazon Transcribe jobs (account quota)",
        "include_deferred": True,
    },
    BEDROCK_POOL: {
        "slots": 4,
        "description": "concurrent Bedrock summary requests (token quota)",
        "include_deferred": True,
    },
}

# -- assets ---------------------------------------------------------------------------------------
# publish() emits the summaries asset (outlet of the processing DAG's publish task); the warehouse DAG
# is scheduled on it. Only the name matters to Airflow; the URI says what it stands for. The `x-`
# scheme tells Airflow the URI is ours: any other scheme makes every task process that parses the DAG
# load all providers' URI normalizers (the S3 and GCS hooks, about 2.5 s of CPU per task).
SUMMARIES_ASSET_NAME = "callcare_lake_summaries"
SUMMARIES_ASSET_URI = "x-callcare://lake/tables/summaries"
# the warehouse DAG emits it when the marts are rebuilt (for SPICE refreshes, app caches)
MARTS_ASSET_NAME = "callcare_warehouse_marts"
MARTS_ASSET_URI = "x-callcare://warehouse/marts"

# -- settings held by Airflow ---------------------------------------------------------------------
SETTINGS_VARIABLE = "callcare_settings"

# -- lake -----------------------------------------------------------------------------------------
LAKE_TABLES = ("calls", "turns", "summaries", "metrics", "status_events")
PARTITION_KEY = "call_date"
# What one write of a table replaces whole: a call's rows (a call's summary version's, in summaries).
# A partition may hold a unit in two files for a while (a per-call file beside a compacted one):
# readers take each unit from one file only (callcare.core.lake_generations has the rule).
LAKE_TABLE_UNITS: dict[str, tuple[str, ...]] = {
    "calls": ("call_id",),
    "turns": ("call_id",),
    "summaries": ("call_id", "prompt_version"),
    "metrics": ("call_id",),
    "status_events": ("call_id",),
}
# a compacted file is `compacted-<generation>.parquet` in its partition; no call id starts so
COMPACTED_FILE_PREFIX = "compacted-"
DATE_PATTERN = r"^\d{4}-\d{2}-\d{2}$"
# a prompt version becomes part of lake file names, so it is kept to safe characters
PROMPT_VERSION_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.]{0,15}$"

# -- recordings -----------------------------------------------------------------------------------
# extension -> the Content-Type browsers play it by (Python's mimetypes misses some of these)
AUDIO_CONTENT_TYPES = {
    "wav": "audio/wav",
    "mp3": "audio/mpeg",
    "flac": "audio/flac",
    "ogg": "audio/ogg",
    "oga": "audio/ogg",
    "opus": "audio/ogg",
    "m4a": "audio/mp4",
    "mp4": "audio/mp4",
    "aac": "audio/aac",
    "webm": "audio/webm",
}
SUPPORTED_AUDIO_EXTENSIONS = frozenset(AUDIO_CONTENT_TYPES)

# -- metrics (CloudWatch names; namespace from the settings, dimension Environment on each) --------
STATSD_PREFIX = "callcare"
STAGE_SECONDS = "StageSeconds"  # + dimension Stage
PROCESSING_SECONDS = "ProcessingSeconds"  # upload to COMPLETED, per call
CALLS_COMPLETED = "CallsCompleted"
CALLS_FAILED = "CallsFailed"  # also published with dimension Reason
INPUT_TOKENS = "InputTokens"
OUTPUT_TOKENS = "OutputTokens"
COST_USD = "CostUSD"
THROTTLES = "Throttles"  # + dimension Service, one of THROTTLED_SERVICES (infra alarms on each)
TRANSCRIBE_SERVICE = "transcribe"  # each throttled Transcribe request (botocore retries it)
BEDROCK_SERVICE = "bedrock"  # each throttled Bedrock request (the backend's backoff retries it)
DRIVE_SERVICE = "drive"  # each Drive 429 / rate-limit 403 (the Google client retries it)
THROTTLED_SERVICES = (TRANSCRIBE_SERVICE, BEDROCK_SERVICE, DRIVE_SERVICE)
METRIC_NAMES = (
    STAGE_SECONDS,
    PROCESSING_SECONDS,
    CALLS_COMPLETED,
    CALLS_FAILED,
    INPUT_TOKENS,
    OUTPUT_TOKENS,
    COST_USD,
    THROTTLES,
)

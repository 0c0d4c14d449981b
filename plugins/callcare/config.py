"""The one settings object: every backend choice and location comes from here.

Values are read from environment variables named CALLCARE_*; inside Airflow tasks the Variable
`callcare_settings` (a JSON object of field names, e.g. {"gdrive_folder_id": "..."}) and the
registry's connection override them through `callcare.hooks.settings.task_settings()`, the one
task-side entry. Nothing else in the package reads the environment.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

PROFILES = ("local", "aws")
DBT_TARGETS = ("duckdb", "athena")
# MWAA's recipe (DESIGN.md): the startup script builds dbt's virtualenv here, and the deploy step puts
# the dbt project inside the dags prefix.
MWAA_DBT_EXECUTABLE = "/usr/local/airflow/dbt_venv/bin/dbt"
MWAA_DBT_PROJECT_DIR = "/usr/local/airflow/dags/dbt"
_REPO_ROOT = Path(__file__).resolve().parents[2]


def _default_home() -> Path:
    return Path.cwd() / "var"


def _default_dbt_executable() -> str:
    """MWAA's dbt venv, else the checkout's .venv-dbt (scripts/bootstrap.sh), else a dbt on PATH.

    dbt never shares the Airflow environment (dbt-athena pins an older PyAthena), so a dbt found
    next to this Python is not looked for. The MWAA path is the answer of last resort so that an
    error names the place the startup script should have filled.
    """
    for candidate in (Path(MWAA_DBT_EXECUTABLE), _REPO_ROOT / ".venv-dbt" / "bin" / "dbt"):
        if candidate.is_file():
            return str(candidate)
    return shutil.which("dbt") or MWAA_DBT_EXECUTABLE


def _default_dbt_project_dir() -> Path:
    """The checkout's dbt/ locally; on MWAA the dbt/ folder of the dags prefix, in the DAGs folder.

    The DAGs folder is read from Airflow's own setting (AIRFLOW_HOME/dags by default), not assumed
    to be MWAA's /usr/local/airflow/dags: the deployment rehearsal found the warehouse DAG failing
    to parse wherever the DAGs folder sits elsewhere.
    """
    local = _REPO_ROOT / "dbt"
    if (local / "dbt_project.yml").is_file():
        return local
    home = os.environ.get("AIRFLOW_HOME") or str(Path(MWAA_DBT_PROJECT_DIR).parents[1])
    dags_folder = os.environ.get("AIRFLOW__CORE__DAGS_FOLDER") or str(Path(home) / "dags")
    return Path(dags_folder) / "dbt"


@dataclass(frozen=True)
class Settings:
    profile: str = "local"
    home: Path = field(default_factory=_default_home)
    inbox_dir: Path | None = None
    lake_uri: str | None = None
    registry_url: str | None = None
    # local profile only (the aws profile runs Amazon Transcribe): Whisper tiny.en, shipped in a
    # package (requirements-models.txt); "pocketsphinx" is the fallback that needs no extra install
    stt_engine: str = "faster-whisper:tiny.en"
    summary_backend: str = "offline"
    # 2-channel audio: which channel carries the agent ("0" = left, "1" = right)
    agent_channel: int = 0
    max_speakers: int = 2
    # recordings over these limits end FAILED (duration) or are rejected at the inbox (size)
    max_duration_s: int = 3 * 3600
    max_upload_bytes: int = 1024 * 1024 * 1024
    # AWS
    aws_region: str = "us-east-1"
    bedrock_model_id: str = "anthropic.claude-3-5-haiku-20241022-v1:0"
    bedrock_max_output_tokens: int = 2048
    openai_base_url: str | None = None
    openai_model: str | None = None
    openai_api_key: str | None = None
    sns_topic_arn: str | None = None
    prompt_version: str = "v1"
    # pipeline metrics: CloudWatch namespace (aws) and the environment dimension; unset = log lines
    metrics_cloudwatch_namespace: str | None = None
    metrics_environment: str | None = None
    # LLM summaries: transcripts longer than this are cut in the middle (the result says truncated)
    llm_max_transcript_chars: int = 48000
    # JSON {"model-id": {"input_per_1k": USD, "output_per_1k": USD}} adding to/overriding the built-in prices
    llm_prices_json: str | None = None
    # Amazon Transcribe. Output goes to the lake bucket unless transcribe_output_bucket is set.
    transcribe_output_bucket: str | None = None
    transcribe_output_kms_key_id: str | None = None
    transcribe_language_code: str = "en-US"
    # comma-separated language codes: when set, Transcribe identifies the language among them
    transcribe_language_options: str | None = None
    # PII redaction: unset = off, "redacted" or "redacted_and_unredacted"
    transcribe_redaction_output: str | None = None
    # comma-separated PII entity types to redact (unset = all types)
    transcribe_pii_entity_types: str | None = None
    transcribe_vocabulary_name: str | None = None
    transcribe_vocabulary_filter_name: str | None = None
    # "mask" (***), "remove" or "tag"
    transcribe_vocabulary_filter_method: str = "mask"
    # seconds between two status polls of a Transcribe job (the wait runs in the triggerer)
    transcribe_poll_interval_s: int = 30
    # -- aws profile: connections, lake, Google Drive source, alerts --
    # Airflow connection of the AWS hooks (Transcribe, SNS); on MWAA it carries no keys (execution role)
    aws_conn_id: str = "aws_default"
    # S3-compatible endpoint (moto, MinIO) for the lake and presigned URLs; unset = AWS
    s3_endpoint_url: str | None = None
    # KMS key (id, ARN or alias/...) every lake object is written with (SSE-KMS); unset = bucket default
    lake_kms_key_id: str | None = None
    # lifetime of a presigned audio URL for the web app
    presign_expiry_s: int = 900
    # Airflow connection (postgres) of the registry; when set it wins over registry_url, so the
    # database password stays in the connection (Secrets Manager on MWAA), not in the environment
    registry_conn_id: str | None = None
    # Airflow connection (google_cloud_platform, keyfile_dict = the service account's key JSON)
    gdrive_conn_id: str = "callcare_gdrive"
    # the Drive folder recordings are dropped into (My Drive or a shared drive)
    gdrive_folder_id: str | None = None
    # when set, each landed recording is moved there (needs the drive scope, not drive.readonly)
    gdrive_processed_folder_id: str | None = None
    # "changes" (changes API with a stored page token) or "list" (list the whole folder every poll)
    gdrive_discovery: str = "changes"
    # Drive API root for tests and private endpoints; unset = https://www.googleapis.com/
    gdrive_api_endpoint: str | None = None
    gdrive_page_size: int = 100
    gdrive_download_chunk_bytes: int = 8 * 1024 * 1024
    # recordings landed per poll; the rest wait (remembered) for the next poll
    gdrive_max_files_per_poll: int = 25
    # polls a file that cannot be downloaded is retried before it is given up (and logged)
    gdrive_max_attempts: int = 5
    # outbox events published per run of the alerts DAG
    alerts_batch_size: int = 200
    # -- warehouse (dbt through cosmos) --
    # dbt's own executable (see _default_dbt_executable for the default)
    dbt_executable: str | None = None
    dbt_project_dir: Path | None = None
    # target in dbt/profiles.yml: unset = duckdb on the local profile, athena on aws
    dbt_target: str | None = None
    # the local DuckDB file the marts are built into
    warehouse_path: Path | None = None
    # Glue database of the lake's Parquet tables (callcare.warehouse.glue_tables), and the one dbt builds into
    glue_database: str = "callcare_lake"
    athena_database: str = "callcare_analytics"
    athena_work_group: str = "primary"
    # where Athena writes query results and dbt's tables; unset = under the lake bucket
    athena_s3_staging_dir: str | None = None
    athena_s3_data_dir: str | None = None
    # debounce of the warehouse DAG: wait until no call finished for this long, but no longer than max
    warehouse_quiet_s: int = 120
    warehouse_max_wait_s: int = 900

    def __post_init__(self) -> None:
        if self.profile not in PROFILES:
            raise ValueError(f"CALLCARE_PROFILE must be one of {PROFILES}, got {self.profile!r}")
        home = Path(self.home).resolve()
        object.__setattr__(self, "home", home)
        if self.inbox_dir is None:
            object.__setattr__(self, "inbox_dir", home / "inbox")
        else:
            object.__setattr__(self, "inbox_dir", Path(self.inbox_dir).resolve())
        if self.lake_uri is None:
            object.__setattr__(self, "lake_uri", (home / "lake").as_uri())
        if self.registry_url is None:
            object.__setattr__(self, "registry_url", f"sqlite:///{home / 'registry.db'}")
        if self.dbt_executable is None:
            object.__setattr__(self, "dbt_executable", _default_dbt_executable())
        project = _default_dbt_project_dir() if self.dbt_project_dir is None else self.dbt_project_dir
        object.__setattr__(self, "dbt_project_dir", Path(project).resolve())
        if self.dbt_target is None:
            object.__setattr__(self, "dbt_target", "athena" if self.profile == "aws" else "duckdb")
        if self.dbt_target not in DBT_TARGETS:
            raise ValueError(f"CALLCARE_DBT_TARGET must be one of {DBT_TARGETS}, got {self.dbt_target!r}")
        warehouse = (
            home / "warehouse" / "callcare.duckdb" if self.warehouse_path is None else self.warehouse_path
        )
        object.__setattr__(self, "warehouse_path", Path(warehouse).resolve())

    @classmethod
    def from_mapping(cls, values: Mapping[str, str]) -> Settings:
        kwargs: dict[str, object] = {}
        for f in fields(cls):
            raw = values.get(f"CALLCARE_{f.name.upper()}")
            if raw is None or raw == "":
                continue
            kwargs[f.name] = int(raw) if f.type in ("int", int) else raw
        return cls(**kwargs)  # type: ignore[arg-type]

    @classmethod
    def from_env(cls) -> Settings:
        return cls.from_mapping(os.environ)

    def with_overrides(self, **changes: object) -> Settings:
        return replace(self, **changes)  # type: ignore[arg-type]


_cached: Settings | None = None


def get_settings() -> Settings:
    """Settings of this process, read once (tests call `reset_settings()` after changing env)."""
    global _cached
    if _cached is None:
        _cached = Settings.from_env()
    return _cached


def reset_settings() -> None:
    global _cached
    _cached = None

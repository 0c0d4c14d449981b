"""The one settings object: every backend choice and location comes from here.

Values are read from environment variables named CALLCARE_*; on Airflow, Airflow Variables of the
same name (lower case, without the prefix: e.g. `callcare_lake_uri`) override them through
`Settings.from_airflow()`. Nothing else in the package reads the environment.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

PROFILES = ("local", "aws")


def _default_home() -> Path:
    return Path.cwd() / "var"


@dataclass(frozen=True)
class Settings:
    profile: str = "local"
    home: Path = field(default_factory=_default_home)
    inbox_dir: Path | None = None
    lake_uri: str | None = None
    registry_url: str | None = None
    stt_engine: str = "pocketsphinx"
    summary_backend: str = "offline"
    # 2-channel audio: which channel carries the agent ("0" = left, "1" = right)
    agent_channel: int = 0
    max_speakers: int = 2
    # AWS
    aws_region: str = "us-east-1"
    bedrock_model_id: str = "anthropic.claude-3-5-haiku-20241022-v1:0"
    bedrock_max_output_tokens: int = 2048
    openai_base_url: str | None = None
    openai_model: str | None = None
    openai_api_key: str | None = None
    sns_topic_arn: str | None = None
    prompt_version: str = "v1"
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

"""What every summary backend promises the pipeline, and how the pipeline picks one.

The pipeline only needs three outcomes: a schema-valid summary with its cost, a permanent failure
(mark the call FAILED with the reason, retrying would give the same answer), or a transient one
(raise so Airflow's task retries run later). The two exception types carry that split.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from callcare.config import Settings
    from callcare.core.transcript import Transcript

BACKENDS = ("offline", "bedrock", "openai", "instant")


class SummaryFailed(Exception):
    """Permanent: the same transcript would fail again. `reason` is short and holds no transcript text."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class SummaryTransientError(Exception):
    """Worth retrying later (throttling, timeouts, 5xx): let Airflow's retry policy handle it."""


@dataclass
class SummaryResult:
    summary: dict[str, Any]
    backend: str
    model_id: str
    prompt_version: str
    input_tokens: int
    output_tokens: int
    cost_usd: float
    truncated: bool = False
    repaired: bool = False

    def metadata(self) -> dict[str, Any]:
        """Everything but the summary: what the stored summary document records beside it."""
        meta = asdict(self)
        meta.pop("summary")
        return meta


@runtime_checkable
class SummaryBackend(Protocol):
    name: str

    def summarize(self, transcript: Transcript, call_date: str) -> SummaryResult: ...


def get_backend(settings: Settings | None = None) -> SummaryBackend:
    """The backend the settings name; imports lazily so the offline profile never loads boto3."""
    if settings is None:
        from callcare.config import get_settings

        settings = get_settings()
    choice = settings.summary_backend.strip().lower()
    if choice == "offline":
        from callcare.summarization.offline.analyzer import OfflineAnalyzer

        return OfflineAnalyzer(prompt_version=settings.prompt_version)
    if choice == "bedrock":
        from callcare.summarization.bedrock import BedrockBackend

        return BedrockBackend.from_settings(settings)
    if choice == "instant":
        from callcare.summarization.instant import InstantBackend

        return InstantBackend(prompt_version=settings.prompt_version)
    if choice == "openai":
        from callcare.summarization.openai_compat import OpenAICompatBackend

        return OpenAICompatBackend.from_settings(settings)
    raise ValueError(f"CALLCARE_SUMMARY_BACKEND must be one of {BACKENDS}, got {settings.summary_backend!r}")

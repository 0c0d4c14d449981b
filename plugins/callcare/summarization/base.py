"""What every summary backend promises the pipeline (`callcare.summarization.choose` picks one).

The pipeline only needs three outcomes: a schema-valid summary with its cost, a permanent failure
(mark the call FAILED with the reason, retrying would give the same answer), or a transient one
(raise so Airflow's task retries run later). The two exception types carry that split.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from callcare.core.transcript import Transcript


class SummaryFailed(Exception):
    """Permanent: the same transcript would fail again. `reason` is short and holds no transcript text."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class SummaryTransientError(Exception):
    """Worth retrying later (throttling, timeouts, 5xx): let Airflow's retry policy handle it.

    `throttled` tells throttling (the model's quota) from the rest, so the backoff can report it
    to the throttling metric without parsing the message.
    """

    def __init__(self, message: str, *, throttled: bool = False) -> None:
        super().__init__(message)
        self.throttled = throttled


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

"""Making and storing a call's summary: the part the pipeline and re-summarizing share.

Both validate the backend's answer against the version's schema, store the summary document (with
its prompt version, model, tokens and cost) under the version's lake key, and copy the same summary
fields into the call row; a second copy of those rules would drift.
"""

from __future__ import annotations

from typing import Any

from callcare.core.context import CallFailed
from callcare.core.lake import Lake
from callcare.core.transcript import Transcript
from callcare.lake_paths import summary_key
from callcare.summarization.base import SummaryBackend, SummaryFailed, SummaryResult
from callcare.summarization.schema import SummaryInvalid, validate_summary

# the summary fields copied into the call row beside the summary's own metadata (the app filters on them)
SUMMARY_FIELDS = ("sentiment", "category", "agent_id", "customer_id", "resolved", "escalated")


def summary_fields(summary: dict[str, Any]) -> dict[str, Any]:
    return {name: summary.get(name) for name in SUMMARY_FIELDS}


def make_summary(
    backend: SummaryBackend, transcript: Transcript, call_date: str, prompt_version: str | None = None
) -> SummaryResult:
    """The backend's summary, checked against its version's schema; CallFailed when it is not usable.

    `prompt_version`, when given, is the version the caller asked for: a backend that answered with
    another one is refused rather than stored under the wrong key.
    """
    try:
        result = backend.summarize(transcript, call_date)
        if prompt_version is not None and result.prompt_version != prompt_version:
            raise CallFailed(f"the backend wrote prompt {result.prompt_version}, not {prompt_version}")
        validate_summary(result.summary, result.prompt_version)
    except (SummaryFailed, SummaryInvalid) as exc:
        raise CallFailed(f"summary failed: {getattr(exc, 'reason', exc)}") from exc
    return result


def store_summary(
    lake: Lake, call_id: str, call_date: str, result: SummaryResult
) -> tuple[str, dict[str, Any]]:
    """The stored summary document's URI and content; a re-run of the same version replaces it."""
    stored = {**result.metadata(), "summary": result.summary}
    uri = lake.put_json(summary_key(call_date, call_id, result.prompt_version), stored)
    return uri, stored


def summary_call_fields(uri: str, result: SummaryResult) -> dict[str, Any]:
    """What the call row records about the summary it shows."""
    return {
        "summary_uri": uri,
        "summary_backend": result.backend,
        "model_id": result.model_id,
        "prompt_version": result.prompt_version,
        "cost_usd": result.cost_usd,
    }

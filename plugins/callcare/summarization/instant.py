"""A summary backend that reads nothing, for orchestration benchmarks and fault tests.

With CALLCARE_SUMMARY_BACKEND=instant every call gets a schema-valid summary that says it was not
summarized, at no cost and in no time, so benchmarks measure the pipeline and not the model.
"""

from __future__ import annotations

from typing import Any

from callcare.core.transcript import Transcript
from callcare.summarization.base import SummaryResult


class InstantBackend:
    name = "instant"

    def __init__(self, prompt_version: str = "v1") -> None:
        self.prompt_version = prompt_version

    def summarize(self, transcript: Transcript, call_date: str) -> SummaryResult:
        summary: dict[str, Any] = {
            "call_date": call_date,
            "issue_sentence": "Not summarized: the instant backend is for orchestration benchmarks.",
            "key_details": [],
            "action_items": [],
            "next_steps": [],
            "sentiment": "Neutral",
            "customer_sentiment": "Neutral",
            "agent_sentiment": "Neutral",
            "agent_id": None,
            "customer_id": None,
            "category": "other",
            "resolved": False,
            "escalated": False,
        }
        return SummaryResult(
            summary=summary,
            backend=self.name,
            model_id="none",
            prompt_version=self.prompt_version,
            input_tokens=0,
            output_tokens=0,
            cost_usd=0.0,
        )

"""Which summary backend the settings name, imported lazily so the offline profile never loads boto3.

Kept apart from the backend contract (`base`), which every backend imports: a factory there would
import the backends back and make a cycle.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from callcare.config import Settings
    from callcare.summarization.base import SummaryBackend

BACKENDS = ("offline", "bedrock", "openai", "instant")


def get_backend(settings: Settings) -> SummaryBackend:
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

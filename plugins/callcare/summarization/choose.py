"""Which summary backend the settings name, imported lazily so the offline profile never loads boto3.

Kept apart from the backend contract (`base`), which every backend imports: a factory there would
import the backends back and make a cycle.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any

from callcare.names import BEDROCK_SERVICE

if TYPE_CHECKING:
    from callcare.config import Settings
    from callcare.summarization.base import SummaryBackend

BACKENDS = ("offline", "bedrock", "openai", "instant")
# Canned output for benchmarks and tests: on the aws profile it would overwrite real summaries with
# "not summarized" ones (a resummarize run over every call, say), so that profile refuses it.
TEST_ONLY_BACKENDS = frozenset({"instant"})
# The offline analyzer reads number words with text2num, a package of requirements-local.txt that
# MWAA does not install (local-only, as the offline speech engines): on aws it would fail each call.
LOCAL_ONLY_BACKENDS = frozenset({"offline"})


def backends_for(profile: str) -> tuple[str, ...]:
    """The backends a deployment of this profile may choose (what a form should offer)."""
    refused = TEST_ONLY_BACKENDS | LOCAL_ONLY_BACKENDS if profile == "aws" else frozenset()
    return tuple(b for b in BACKENDS if b not in refused)


def check_backend(name: str, profile: str) -> str:
    """`name`, normalised, when this profile may use it; a ValueError that says why otherwise."""
    choice = name.strip().lower()
    if choice in TEST_ONLY_BACKENDS and profile == "aws":
        raise ValueError(
            f"the {choice} summary backend writes canned summaries for tests and benchmarks and is "
            f"refused on the aws profile, where it would replace real summaries; choose one of "
            f"{', '.join(backends_for(profile))}"
        )
    if choice in LOCAL_ONLY_BACKENDS and profile == "aws":
        raise ValueError(
            f"the {choice} summary backend needs the local-only packages of requirements-local.txt, "
            f"which MWAA does not install; choose one of {', '.join(backends_for(profile))}"
        )
    if choice not in BACKENDS:
        raise ValueError(f"CALLCARE_SUMMARY_BACKEND must be one of {BACKENDS}, got {name!r}")
    return choice


def _retries(on_throttle: Callable[[str], None] | None, service: str) -> dict[str, Any]:
    """The backend's backoff, reporting each throttled request as `service` (none: the default)."""
    if on_throttle is None:
        return {}
    from callcare.summarization.llm_common import Backoff

    return {"backoff": Backoff(on_throttle=partial(on_throttle, service))}


def get_backend(settings: Settings, *, on_throttle: Callable[[str], None] | None = None) -> SummaryBackend:
    """The configured backend. `on_throttle(service)` is called for each throttled model request
    (the steps pass the throttling metric in; the backends know nothing of metrics)."""
    choice = check_backend(settings.summary_backend, settings.profile)
    if choice == "offline":
        from callcare.summarization.offline.analyzer import OfflineAnalyzer

        return OfflineAnalyzer(prompt_version=settings.prompt_version)
    if choice == "bedrock":
        from callcare.summarization.bedrock import BedrockBackend

        return BedrockBackend.from_settings(settings, **_retries(on_throttle, BEDROCK_SERVICE))
    if choice == "instant":
        from callcare.summarization.instant import InstantBackend

        return InstantBackend(prompt_version=settings.prompt_version)
    if choice == "openai":
        from callcare.summarization.openai_compat import OpenAICompatBackend

        return OpenAICompatBackend.from_settings(settings, **_retries(on_throttle, "openai"))
    raise ValueError(f"CALLCARE_SUMMARY_BACKEND must be one of {BACKENDS}, got {settings.summary_backend!r}")

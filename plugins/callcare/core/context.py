"""What every step of one call needs at hand, and how a step says the call cannot succeed.

`CallFailed` is the permanent/transient split every step follows: raising it means retrying cannot
help (a corrupt recording, an invalid summary) and the call ends FAILED with the reason; any other
exception is retried by Airflow. Kept in the core so steps, task wrappers and the CLI share it
without importing one another.
"""

from __future__ import annotations

from dataclasses import dataclass

from callcare.config import Settings
from callcare.core.lake import Lake
from callcare.core.registry import Registry

MAX_REASON = 500


class CallFailed(Exception):
    """Permanent failure of one call; `reason` is short, readable and free of transcript text."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason[:MAX_REASON]


@dataclass
class Context:
    settings: Settings
    lake: Lake
    registry: Registry

    @classmethod
    def create(cls, settings: Settings) -> Context:
        """Stores from explicit settings: task code passes the task-side settings, the CLI its own."""
        return cls(settings, Lake.from_settings(settings), Registry(str(settings.registry_url)))

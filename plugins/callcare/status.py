"""The call lifecycle: UPLOADED → TRANSCRIBING → SUMMARIZING → COMPLETED, or FAILED with a reason."""

from __future__ import annotations

from enum import StrEnum


class CallStatus(StrEnum):
    UPLOADED = "UPLOADED"
    TRANSCRIBING = "TRANSCRIBING"
    SUMMARIZING = "SUMMARIZING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"


TERMINAL = frozenset({CallStatus.COMPLETED, CallStatus.FAILED})

# target status -> the statuses it may be entered from. Entering the current status again is how a
# retried task resumes (no new event). FAILED can be entered from any status that is not terminal.
ALLOWED_FROM: dict[CallStatus, frozenset[CallStatus]] = {
    CallStatus.TRANSCRIBING: frozenset({CallStatus.UPLOADED}),
    CallStatus.SUMMARIZING: frozenset({CallStatus.TRANSCRIBING}),
    CallStatus.COMPLETED: frozenset({CallStatus.SUMMARIZING}),
    CallStatus.FAILED: frozenset({CallStatus.UPLOADED, CallStatus.TRANSCRIBING, CallStatus.SUMMARIZING}),
    # reprocessing starts a finished call over
    CallStatus.UPLOADED: frozenset({CallStatus.COMPLETED, CallStatus.FAILED}),
}


class InvalidTransition(RuntimeError):
    pass


def check_transition(current: CallStatus, target: CallStatus) -> bool:
    """True when the change is real, False when it re-enters the same status; raises when not allowed."""
    if current == target and target not in TERMINAL:
        return False
    if current not in ALLOWED_FROM[target]:
        raise InvalidTransition(f"a call in {current} cannot go to {target}")
    return True

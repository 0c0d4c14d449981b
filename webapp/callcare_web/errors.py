"""The outcomes a read or a command can end in besides success, free of HTTP.

The pages answer them with a flash or an abort, the API with a JSON status: keeping them plain lets
one command serve both.
"""

from __future__ import annotations


class NotFound(Exception):
    """No such call (or user)."""


class Forbidden(Exception):
    """The call exists but is outside the user's scope."""


class Invalid(ValueError):
    """The request asks for something the rules do not allow; the message says what."""

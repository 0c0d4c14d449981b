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


class NotInLake(NotFound):
    """The call is in the registry but the lake object it names is not there (deleted, expired or
    never written): a 404 that says so, not the storage library's error as a 500."""


class NotAssignable(Invalid):
    """The user a call is to be assigned to does not exist or is not active: a well-formed request
    that the current state refuses (the API answers 409, not 400)."""

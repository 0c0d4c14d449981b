"""callcare's caseworker web app: Flask-AppBuilder over the call registry and the lake.

`create_app()` builds the app; `callcare_web.cli` initializes the database, creates the first admin
and serves it (gunicorn, threaded, so the WebSocket live feed has its threads).

`create_app` is looked up on first use rather than imported here: every submodule imports this
package first, and an eager import of the app would make each of them depend on all the others.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from callcare_web.app import create_app

__all__ = ["create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from callcare_web.app import create_app

        return create_app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

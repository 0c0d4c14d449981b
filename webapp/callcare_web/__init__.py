"""callcare's caseworker web app: Flask-AppBuilder over the call registry and the lake.

`create_app()` builds the app; `callcare_web.cli` initializes the database, creates the first admin
and serves it (gunicorn, threaded, so the WebSocket live feed has its threads).
"""

from callcare_web.app import create_app

__all__ = ["create_app"]

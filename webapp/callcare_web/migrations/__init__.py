"""The web app's Alembic history (a package, so the wheel carries it)."""

"""The registry's Alembic history (a package, so setuptools and plugins.zip carry it)."""

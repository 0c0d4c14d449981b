"""The test suites, as one package.

A regular package (not a namespace) so that `tests.support` is this repository's, even where an
installed distribution ships a top-level `tests` directory of its own (looker_sdk's does, in .venv).
Every suite folder is a subpackage too: pytest then names each module by its dotted path
(`tests.unit.test_tables`), puts only the repository root on sys.path, and no suite's folder becomes
an import root from which another suite could pick up its helpers or its conftest.
"""

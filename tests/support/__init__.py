"""Code the suites and the benchmarks share: helpers, fakes, fixtures and seed data.

Each module is imported by its dotted name (`tests.support.fake_drive`), from any suite or from
bench/, instead of one suite importing another's conftest or a folder being put on sys.path.
"""

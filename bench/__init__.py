"""The benchmarks, as a package: run from the repository root as `python -m bench.<name>`.

A package so that benchmarks share code by import (`bench.stackbench`, `bench.webstack`), tests import
the scoring they check (`bench.stt_benchmark`), and the web benchmarks reach the tests' seed data
(`tests.support`) without any of them editing sys.path.
"""

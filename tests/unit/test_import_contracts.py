"""The import contracts in pyproject.toml hold, and they catch the breaks they are there for.

The test command runs `lint-imports` on the tree; this proves the contracts are not vacuous: a copy
of the packages with one bad import each (an upward reach, a cycle, Airflow in the core) fails.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint(root: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": f"{root / 'plugins'}:{root / 'webapp'}"}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--config", str(root / "pyproject.toml")],
        cwd=root,
        env=env,
        text=True,
        capture_output=True,
        check=False,
    )


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("tree")
    shutil.copy(REPO / "pyproject.toml", root)
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info")
    shutil.copytree(REPO / "plugins" / "callcare", root / "plugins" / "callcare", ignore=ignore)
    shutil.copytree(REPO / "webapp" / "callcare_web", root / "webapp" / "callcare_web", ignore=ignore)
    return root


def test_the_tree_keeps_every_contract() -> None:
    result = lint(REPO)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("module", "bad_import", "contract"),
    [
        ("plugins/callcare/core/lake.py", "import airflow.sdk", "the core imports neither Airflow"),
        ("plugins/callcare/core/tables.py", "import numpy", "the core imports neither Airflow"),
        ("plugins/callcare/steps/process.py", "import callcare.dag_tasks.runtime", "callcare: dev tools"),
        ("plugins/callcare/core/registry.py", "import callcare.steps.process", "callcare: dev tools"),
        (
            "plugins/callcare/summarization/base.py",
            "import callcare.summarization.choose",
            "no import cycles",
        ),
        (
            "webapp/callcare_web/queries.py",
            "import callcare.steps.process",
            "the web app reads through the core",
        ),
        ("webapp/callcare_web/tables.py", "import callcare_web.commands", "web app: entry points"),
    ],
)
def test_a_bad_import_breaks_its_contract(tree: Path, module: str, bad_import: str, contract: str) -> None:
    path = tree / module
    original = path.read_text()
    # inside a function: the contracts count imports wherever they are, TYPE_CHECKING ones excepted
    path.write_text(original + f"\n\ndef _reach() -> None:\n    {bad_import}  # noqa\n")
    try:
        result = lint(tree)
    finally:
        path.write_text(original)
    assert result.returncode != 0
    broken = result.stdout.split("Broken contracts", 1)[-1]
    assert contract in " ".join(broken.split()), result.stdout

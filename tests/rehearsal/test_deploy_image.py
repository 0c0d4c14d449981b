"""The web image's build context and tag (issue 14, break 6).

deploy.sh built the image with `webapp/` as the Docker context while webapp/Dockerfile copies from
the repository root (pyproject.toml, plugins/callcare), so the build could not succeed; and it marked
the image stale only when webapp/ changed, so a change to the callcare package the image installs
shipped no new image. The image step now stages the files the Dockerfile copies, with their
repository paths, as the context, and tags the image with a digest of that context.

These tests read the Dockerfile themselves (not with the step's parser) and hold the step to it.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

pytest.importorskip("aws_cdk", reason="runs in the deploy environment: .venv-infra (scripts/test.sh)")

from tests.rehearsal.steps import load_deploy_steps
from tests.support.helpers import REPO

steps = load_deploy_steps()
DOCKERFILE = REPO / "webapp" / "Dockerfile"


def copy_sources(dockerfile: Path) -> list[str]:
    """The context paths of every COPY/ADD without --from, read plainly: all words but the last."""
    sources = []
    for line in dockerfile.read_text().splitlines():
        match = re.match(r"^\s*(COPY|ADD)\s+(.*)$", line, re.IGNORECASE)
        if not match or "--from" in match[2]:
            continue
        words = [w for w in match[2].split() if not w.startswith("--")]
        sources += words[:-1]
    return sources


def test_the_context_holds_everything_the_dockerfile_copies():
    """Every COPY source is in the staged context, file for file as in the repository (caches and
    build outputs aside), under the same path: `docker build` finds each one where the Dockerfile
    looks, and the context holds nothing else."""
    sources = copy_sources(DOCKERFILE)
    assert {"pyproject.toml", "plugins/callcare", "webapp"} <= set(sources)  # what it copies today
    context = set(steps.build_context_files(REPO))
    expected = {"webapp/Dockerfile"}
    for source in sources:
        path = REPO / source
        if path.is_file():
            expected.add(source)
            continue
        assert path.is_dir(), f"the Dockerfile copies {source}, which the repository lacks"
        for file in path.rglob("*"):
            rel = file.relative_to(REPO)
            if (
                file.is_file()
                and not {"__pycache__"} & set(rel.parts)
                and not any(part.endswith(".egg-info") for part in rel.parts)
            ):
                expected.add(rel.as_posix())
    assert {f for f in expected if not f.endswith((".pyc", ".pyo"))} == context


def _mini_repo(tmp: Path) -> Path:
    """A repository with the real Dockerfile and a file at each path it copies."""
    repo = tmp / "repo"
    (repo / "webapp").mkdir(parents=True)
    shutil.copy(DOCKERFILE, repo / "webapp" / "Dockerfile")
    for source in copy_sources(DOCKERFILE):
        path = repo / source
        if (REPO / source).is_dir():
            path.mkdir(parents=True, exist_ok=True)
            (path / "module.py").write_text("x = 1\n")
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("pinned==1\n")
    (repo / "dags").mkdir()
    (repo / "dags" / "callcare_ingest.py").write_text("dag = 1\n")
    return repo


def test_the_tag_changes_when_anything_the_image_copies_changes(tmp_path):
    repo = _mini_repo(tmp_path)
    dockerfile = repo / "webapp" / "Dockerfile"
    base = steps.image_tag(repo, dockerfile)
    assert steps.image_tag(repo, dockerfile) == base  # deterministic
    changed_paths = [*copy_sources(DOCKERFILE), "webapp/Dockerfile"]
    for source in changed_paths:
        path = repo / source
        target = path / "module.py" if path.is_dir() else path
        original = target.read_bytes()
        target.write_bytes(original + b"# changed\n")
        assert steps.image_tag(repo, dockerfile) != base, f"a change to {source} keeps the tag"
        target.write_bytes(original)
    assert steps.image_tag(repo, dockerfile) == base
    # what the image does not copy leaves the tag alone: no rebuild, no restart for a DAG change
    (repo / "dags" / "callcare_ingest.py").write_text("dag = 2\n")
    (repo / "plugins" / "callcare" / "__pycache__").mkdir()
    (repo / "plugins" / "callcare" / "__pycache__" / "module.cpython-312.pyc").write_bytes(b"\0")
    assert steps.image_tag(repo, dockerfile) == base
    # a new module is part of the context too
    (repo / "plugins" / "callcare" / "new.py").write_text("y = 2\n")
    assert steps.image_tag(repo, dockerfile) != base


def test_the_tag_is_the_digest_of_what_the_context_holds(tmp_path):
    """The same files in another checkout give the same tag: the image is not rebuilt per clone."""
    repo = _mini_repo(tmp_path)
    clone = tmp_path / "clone"
    shutil.copytree(repo, clone)
    os.utime(clone / "pyproject.toml", (0, 0))
    assert steps.image_tag(repo, repo / "webapp" / "Dockerfile") == steps.image_tag(
        clone, clone / "webapp" / "Dockerfile"
    )

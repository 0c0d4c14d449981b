#!/usr/bin/env python3
"""Builds the MWAA artifacts into one folder, ready for scripts/deploy.sh to upload:

    <out>/dags/              the dags prefix (s3://<artifacts bucket>/dags/):
        *.py                   the DAG files of dags/
        .airflowignore         dags/.airflowignore (+ constraints.txt): Airflow parses the DAG files only
        include/               prompts and samples (DESIGN.md: deployed inside the dags prefix)
        dbt/                   the dbt project
        constraints.txt        the Python 3.12 lock (constraints/lock-py3.12.txt), which requirements.txt
                               references at its path on MWAA
    <out>/plugins.zip         the callcare package at the zip root, with plugins/.airflowignore
    <out>/requirements.txt    requirements.txt, constrained by /usr/local/airflow/dags/constraints.txt
    <out>/startup.sh          mwaa/startup.sh with dbt's requirements and constraints embedded
    <out>/manifest.json       sha256 and size of every artifact

The build is deterministic (sorted entries, fixed timestamps): unchanged sources give byte-identical
artifacts, so deploy.sh uploads, and MWAA updates, only what changed.

    python3 scripts/package_mwaa.py [--out infra/build/mwaa]

Only the standard library is needed.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import sys
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_OUT = REPO / "infra" / "build" / "mwaa"
# MWAA syncs the dags prefix to this folder; requirements.txt may reference files there.
MWAA_DAGS_FOLDER = "/usr/local/airflow/dags"
CONSTRAINTS_NAME = "constraints.txt"
MWAA_LOCK = REPO / "constraints" / "lock-py3.12.txt"  # MWAA 3.3.1 runs Python 3.12
DAGS_PREFIX_DIRS = ("include", "dbt")
EXCLUDED_PARTS = {"__pycache__", ".pytest_cache", "target", "logs", "dbt_packages", ".venv"}
EXCLUDED_SUFFIXES = {".pyc", ".pyo"}
EXCLUDED_NAMES = {".user.yml", ".DS_Store", "profiles.yml.local"}
ZIP_DATE = (1980, 1, 1, 0, 0, 0)
EMBED_START = "# >>> embedded dbt requirements (scripts/package_mwaa.py)"
EMBED_END = "# <<< embedded dbt requirements"


def _included(path: Path, root: Path) -> bool:
    rel = path.relative_to(root)
    if any(part in EXCLUDED_PARTS or part.endswith(".egg-info") for part in rel.parts):
        return False
    return path.suffix not in EXCLUDED_SUFFIXES and path.name not in EXCLUDED_NAMES


def _files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file() and _included(p, root))


def _copy_tree(src: Path, dest: Path) -> None:
    for path in _files(src):
        target = dest / path.relative_to(src)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)


def airflowignore(repo: Path = REPO) -> str:
    """dags/.airflowignore, plus the entries the packaged dags prefix needs beyond it."""
    text = (repo / "dags" / ".airflowignore").read_text()
    entries = {line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")}
    missing = [e for e in (*(f"{d}/" for d in DAGS_PREFIX_DIRS), CONSTRAINTS_NAME) if e not in entries]
    if missing:
        text = text.rstrip("\n") + "\n# added by scripts/package_mwaa.py\n" + "\n".join(missing) + "\n"
    return text


def build_dags_prefix(out: Path, repo: Path = REPO) -> Path:
    dags = out / "dags"
    dags.mkdir(parents=True)
    for dag_file in sorted((repo / "dags").glob("*.py")):
        shutil.copyfile(dag_file, dags / dag_file.name)
    (dags / ".airflowignore").write_text(airflowignore(repo))
    for name in DAGS_PREFIX_DIRS:
        if (repo / name).is_dir():
            _copy_tree(repo / name, dags / name)
    shutil.copyfile(
        MWAA_LOCK if repo == REPO else repo / MWAA_LOCK.relative_to(REPO), dags / CONSTRAINTS_NAME
    )
    return dags


def build_plugins_zip(out: Path, repo: Path = REPO) -> Path:
    plugins = repo / "plugins"
    target = out / "plugins.zip"
    entries = [p for p in _files(plugins / "callcare")]
    ignore = plugins / ".airflowignore"
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        if ignore.exists():
            entries.insert(0, ignore)
        for path in entries:
            info = zipfile.ZipInfo(path.relative_to(plugins).as_posix(), date_time=ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, path.read_bytes())
    return target


def build_requirements(out: Path, repo: Path = REPO) -> Path:
    target = out / "requirements.txt"
    header = (
        "# Built by scripts/package_mwaa.py from requirements.txt. MWAA installs it with the lock that\n"
        f"# the dags prefix carries ({MWAA_LOCK.relative_to(REPO)} as dags/{CONSTRAINTS_NAME}).\n"
        f'--constraint "{MWAA_DAGS_FOLDER}/{CONSTRAINTS_NAME}"\n'
    )
    target.write_text(header + (repo / "requirements.txt").read_text())
    return target


def _heredoc(variable: str, text: str) -> str:
    terminator = f"CALLCARE_EOF_{variable}"
    if terminator in text:
        raise ValueError(f"{variable} contains its heredoc terminator")
    return f"{variable}=$(cat <<'{terminator}'\n{text.rstrip(chr(10))}\n{terminator}\n)"


def build_startup(out: Path, repo: Path = REPO) -> Path:
    script = (repo / "mwaa" / "startup.sh").read_text()
    start, end = script.index(EMBED_START), script.index(EMBED_END)
    embedded = "\n".join(
        [
            EMBED_START,
            _heredoc("CALLCARE_DBT_REQUIREMENTS", (repo / "dbt" / "requirements.txt").read_text()),
            _heredoc("CALLCARE_DBT_CONSTRAINTS", (repo / "dbt" / "constraints.txt").read_text()),
            "",
        ]
    )
    target = out / "startup.sh"
    target.write_text(script[:start] + embedded + script[end:])
    target.chmod(0o755)
    return target


def _digest(path: Path) -> dict[str, object]:
    if path.is_dir():
        h = hashlib.sha256()
        size = 0
        for f in sorted(p for p in path.rglob("*") if p.is_file()):
            data = f.read_bytes()
            h.update(f.relative_to(path).as_posix().encode() + b"\0" + data)
            size += len(data)
        return {
            "sha256": h.hexdigest(),
            "bytes": size,
            "files": sum(1 for p in path.rglob("*") if p.is_file()),
        }
    return {"sha256": hashlib.sha256(path.read_bytes()).hexdigest(), "bytes": path.stat().st_size}


def build(out: Path = DEFAULT_OUT, repo: Path = REPO) -> dict[str, dict[str, object]]:
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    artifacts = {
        "dags": build_dags_prefix(out, repo),
        "plugins.zip": build_plugins_zip(out, repo),
        "requirements.txt": build_requirements(out, repo),
        "startup.sh": build_startup(out, repo),
    }
    manifest = {name: _digest(path) for name, path in artifacts.items()}
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return manifest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--out", type=Path, default=DEFAULT_OUT, help=f"output folder (default {DEFAULT_OUT})"
    )
    args = parser.parse_args(argv)
    manifest = build(args.out.resolve())
    for name, facts in manifest.items():
        print(f"{name:18} {facts['bytes']:>10} bytes  sha256 {str(facts['sha256'])[:16]}")
    print(f"MWAA artifacts in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

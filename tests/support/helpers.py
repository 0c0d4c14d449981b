"""Plain helpers shared by test modules.

Test modules import these from here, never from a conftest: a conftest belongs to its own suite, and
pytest, not an import, is what should load it.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CORPUS = REPO.parent / "shared" / "corpus"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def checkout_env() -> dict[str, str]:
    """The environment for a child interpreter that runs this checkout's code (`python -m bench.x`).

    The tests import callcare from plugins/ and bench from the root (pyproject's pytest pythonpath);
    a child started without this would import callcare from wherever it is installed editable, which
    in a second worktree is another checkout.
    """
    roots = [str(REPO / "plugins"), str(REPO)]
    if os.environ.get("PYTHONPATH"):
        roots.append(os.environ["PYTHONPATH"])
    return {**os.environ, "PYTHONPATH": os.pathsep.join(roots)}


def dialogues() -> list[dict]:
    return json.loads((CORPUS / "dialogues.json").read_text())


def process_runs(env: dict[str, str]) -> list[dict]:
    """The processing DAG's runs, as the Airflow CLI of a running stack lists them."""
    from callcare.dev.local_stack import dag_runs
    from callcare.names import PROCESS_DAG_ID

    return dag_runs(env, PROCESS_DAG_ID)


def drop_settled(inbox: Path, name: str, data: bytes, age_s: float = 60) -> Path:
    """A file in the inbox, written long enough ago for ingestion to count it as settled."""
    inbox.mkdir(parents=True, exist_ok=True)
    path = inbox / name
    path.write_bytes(data)
    old = time.time() - age_s
    os.utime(path, (old, old))
    return path


def capture_metrics(monkeypatch) -> list[dict]:
    """Every CloudWatch datum callcare.observability would put, as {metric, value, unit, call_id, **dims},
    whichever sink is configured: the names and dimensions infra's alarms and dashboard read."""
    from callcare import observability

    sent: list[dict] = []

    def record(*, call_id, cloudwatch, statsd) -> None:
        for metric, value, unit, dims in cloudwatch:
            sent.append({"metric": metric, "value": value, "unit": unit, "call_id": call_id, **dims})

    monkeypatch.setattr(observability, "_record", record)
    return sent


def wait_for(predicate, timeout_s: float, what: str, poll_s: float = 3.0):
    """predicate()'s first truthy answer; fails with what was awaited when timeout_s passes first."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if result := predicate():
            return result
        time.sleep(poll_s)
    raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}")


def render_corpus(out: Path, ids: list[str]) -> Path:
    """Corpus calls spoken into `out` at test time (flite + sox): audio is rendered, never committed."""
    script, dialogues_file = str(CORPUS / "render.py"), str(CORPUS / "dialogues.json")
    subprocess.run(
        [sys.executable, script, dialogues_file, str(out), "--ids", ",".join(ids), "--jobs", "2"],
        check=True,
        capture_output=True,
    )
    return out

"""Plain helpers shared by test modules.

Test modules import these from here, never from `conftest`: with several conftest.py files in one
run (tests/webapp has its own), `import conftest` names whichever was loaded last.
"""

from __future__ import annotations

import json
import socket
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO.parent / "shared" / "corpus"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def dialogues() -> list[dict]:
    return json.loads((CORPUS / "dialogues.json").read_text())


def process_runs(env: dict[str, str]) -> list[dict]:
    """The processing DAG's runs, as the Airflow CLI of a running stack lists them."""
    import subprocess

    from callcare.local_stack import airflow_bin

    out = subprocess.run(
        [airflow_bin(), "dags", "list-runs", "callcare_process_call", "-o", "json"],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    # the CLI may print log lines before its JSON document
    document = next(line for line in reversed(out.splitlines()) if line.startswith(("[{", "[]")))
    return json.loads(document)

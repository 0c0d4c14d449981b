"""Plain helpers shared by test modules.

Test modules import these from here, never from `conftest`: with several conftest.py files in one
run (tests/webapp has its own), `import conftest` names whichever was loaded last.
"""

from __future__ import annotations

import json
import os
import socket
import time
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
    from callcare.dev.local_stack import dag_runs

    return dag_runs(env, "callcare_process_call")


def drop_settled(inbox: Path, name: str, data: bytes, age_s: float = 60) -> Path:
    """A file in the inbox, written long enough ago for ingestion to count it as settled."""
    inbox.mkdir(parents=True, exist_ok=True)
    path = inbox / name
    path.write_bytes(data)
    old = time.time() - age_s
    os.utime(path, (old, old))
    return path

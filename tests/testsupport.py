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

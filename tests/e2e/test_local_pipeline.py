"""The real DAGs under a running scheduler: inbox → COMPLETED (or FAILED with a reason)."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from pathlib import Path

import jsonschema
import pyarrow.parquet as pq
import pytest
from callcare.core.lake import Lake
from callcare.core.registry import Registry
from callcare.dev.local_stack import AirflowStack
from callcare.status import TERMINAL

from tests.support.helpers import wait_for

REPO = Path(__file__).resolve().parents[2]
SCHEMA = json.loads((REPO / "include" / "prompts" / "summary_v1.schema.json").read_text())
DROPS = {
    "2026-09-10_call-0023.wav": "call-0023.wav",  # 16 kHz mono PCM
    "2026-09-11_call-0047.wav": "call-0047.8k.wav",  # 8 kHz mu-law telephony
    "2026-09-12_call-0026.wav": "call-0026.stereo.wav",  # agent left, customer right
    "2026-09-13_call-0014.wav": "call-0014.wav",
}
pytestmark = [pytest.mark.e2e, pytest.mark.audio]


def test_inbox_to_completed_under_a_running_scheduler(tmp_path: Path, corpus_audio: Path) -> None:
    from tests.support.helpers import free_port, process_runs

    home = tmp_path / "home"
    inbox = home / "inbox"
    inbox.mkdir(parents=True)
    registry = Registry(f"sqlite:///{home / 'registry.db'}")
    registry.create_schema()
    lake = Lake((home / "lake").as_uri())

    with AirflowStack(home, port=free_port()) as stack:
        for name, source in DROPS.items():
            shutil.copy(corpus_audio / source, inbox / name)
        (inbox / "2026-09-14_corrupt.wav").write_bytes(b"RIFF\x10\x00\x00\x00WAVEfmt " + b"\xff" * 4000)

        calls = wait_for(
            lambda: (
                (c := registry.list_calls()) and len(c) == 5 and all(x["status"] in TERMINAL for x in c) and c
            ),
            timeout_s=900,
            what="5 calls to finish",
        )
        by_source = {c["source_ref"]: c for c in calls}
        failed = by_source.pop("2026-09-14_corrupt.wav")
        assert failed["status"] == "FAILED"
        assert "could not be decoded" in failed["error_message"]
        for name, call in by_source.items():
            assert call["status"] == "COMPLETED", f"{name}: {call['error_message']}"
            stored = lake.get_json(lake.key_from_uri(call["summary_uri"]))
            jsonschema.validate(stored["summary"], SCHEMA)
            for table in ("calls", "turns", "summaries"):
                key = f"tables/{table}/call_date={call['call_date']}/{call['call_id']}.parquet"
                assert pq.read_table(lake.path(key)).num_rows >= 1, key
        runs_before = process_runs(stack.env)
        assert len(runs_before) == 5
        assert {r["run_id"].split("__")[1] for r in runs_before} == {c["call_id"] for c in calls}

        # the same recording again, under another name: no new call, no new run
        shutil.copy(corpus_audio / "call-0023.wav", inbox / "again.wav")
        wait_for(lambda: not (inbox / "again.wav").exists(), timeout_s=120, what="the duplicate to be taken")
        time.sleep(5)
        assert len(registry.list_calls()) == 5
        assert len(process_runs(stack.env)) == 5
    leftovers = subprocess.run(["pgrep", "-f", str(home)], capture_output=True, text=True).stdout.split()
    assert leftovers == [], "stopping the stack left processes running"

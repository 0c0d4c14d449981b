"""`python -m bench.eval_summaries` runs end to end on three dev calls, from scripts and from transcript files."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.helpers import checkout_env

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT.parent / "shared" / "corpus" / "dialogues.json"
IDS = "call-0003,call-0004,call-0014"
pytestmark = pytest.mark.skipif(not CORPUS.is_file(), reason=f"dev corpus not found at {CORPUS}")


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bench.eval_summaries", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        env=checkout_env(),
        check=False,
    )


def test_reference_run_prints_every_figure() -> None:
    done = run("--ids", IDS, "--json")
    assert done.returncode == 0, done.stderr
    figures = json.loads(done.stdout)
    assert figures["calls"] == 3 and figures["backend"] == "offline"
    assert figures["json_valid"] == {"rate": 1.0, "n": 3}
    for key in (
        "completeness",
        "sentiment_accuracy",
        "category_accuracy",
        "resolved_accuracy",
        "escalated_accuracy",
        "agent_id_exact_when_said",
        "customer_id_exact_when_said",
        "action_item_recall",
        "issue_sentence_token_f1",
    ):
        assert 0.0 <= figures[key]["rate"] <= 1.0 and figures[key]["n"] >= 1, key
    assert figures["failures"] == []


def test_text_report_and_unknown_ids() -> None:
    done = run("--ids", IDS)
    assert done.returncode == 0 and "sentiment_accuracy" in done.stdout
    bad = run("--ids", "call-9999")
    assert bad.returncode == 2 and "unknown call ids: call-9999" in bad.stderr


def test_asr_dir_reads_transcript_files(tmp_path: Path) -> None:
    from bench.eval_summaries import load_corpus, reference_transcript

    for dialogue in load_corpus(CORPUS):
        if dialogue["call_id"] in IDS.split(",")[:2]:
            transcript = reference_transcript(dialogue)
            for turn in transcript.turns:  # what a lowercase, unpunctuated engine would give
                turn.text = "".join(c for c in turn.text.lower() if c.isalnum() or c in " '")
            (tmp_path / f"{dialogue['call_id']}-transcript.json").write_text(json.dumps(transcript.to_dict()))
    done = run("--ids", IDS, "--asr-dir", str(tmp_path), "--json")
    figures = json.loads(done.stdout)
    assert figures["calls"] == 2 and figures["json_valid"]["rate"] == 1.0
    assert figures["failures"] == ["call-0014: no transcript in " + str(tmp_path)]
    assert done.returncode == 1  # a missing transcript is reported, not skipped silently


def test_issue_sentence_token_f1() -> None:
    from bench.eval_summaries import token_f1

    truth = "The customer was charged twice for the March invoice."
    assert token_f1(truth, truth) == 1.0
    assert token_f1(truth, "") == 0.0 and token_f1(truth, "Weather was nice.") == 0.0
    # content words charg/twice/march/invoice vs charg/twice/invoice/refund: P = R = 3/4
    assert abs(token_f1(truth, "Charged twice on an invoice, refund.") - 0.75) < 1e-9

"""Field-level scores of a summary backend against the dev corpus's ground truth.

    python -m bench.eval_summaries [--backend offline] [--ids call-0001,...] [--asr-dir DIR] [--verbose]
                                   [--corpus DIALOGUES_JSON]

`--corpus bench/heldout/dialogues.json` scores the held-out set (bench/heldout/README.md).

Runs the backend over the corpus reference transcripts (roles from the script), or over speech-to-
text transcripts (Transcript JSON files named <call_id>*.json in --asr-dir), and prints: JSON
validity, completeness, sentiment / category / resolved / escalated accuracy, agent_id and
customer_id exact match, and token-overlap recall of action items, next steps and key details.
The corpus is only read here and in tests: nothing in the analyzer is derived from it.

Completeness: of the requested fields the truth fills (issue, lists, IDs), the share the summary
fills too. Item recall: a truth item counts as found when one predicted item covers at least half
of its content words (numbers compared as figures), so it rewards substance, not wording.
Issue-sentence token F1: precision and recall of the summary's issue sentence's content words
(the same comparable words) against the truth's, their harmonic mean per call, averaged over calls;
a missing issue sentence scores 0.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from callcare.config import get_settings
from callcare.core.transcript import Transcript, Turn
from callcare.summarization.base import SummaryFailed, SummaryTransientError
from callcare.summarization.choose import get_backend
from callcare.summarization.offline.spoken_numbers import normalize_numbers
from callcare.summarization.schema import SummaryInvalid, validate_summary

ROOT = Path(__file__).resolve().parents[1]

DEFAULT_CORPUS = ROOT.parent / "shared" / "corpus" / "dialogues.json"
# corpus category -> schema category. The schema's list is a general customer-care taxonomy that
# includes all ten corpus labels under the same names; the extra schema labels (order_delivery,
# plan_change, other) have no corpus counterpart, so predicting them is always scored wrong.
CATEGORY_MAP = {
    "account_access": "account_access",
    "billing": "billing",
    "cancellation": "cancellation",
    "claim": "claim",
    "complaint": "complaint",
    "fraud_security": "fraud_security",
    "information_request": "information_request",
    "outage_technical": "outage_technical",
    "refund_return": "refund_return",
    "scheduling": "scheduling",
}
REQUESTED = ("issue_sentence", "key_details", "action_items", "next_steps", "agent_id", "customer_id")
RECALL_THRESHOLD = 0.5
# fmt: off
_STOP = frozenset({
    "a", "an", "the", "and", "or", "of", "to", "for", "in", "on", "at", "by", "with", "from", "is", "are",
    "was", "were", "be", "been", "it", "its", "this", "that", "these", "those", "their", "his", "her", "he",
    "she", "they", "them", "customer", "customers", "caller", "agent", "during", "call", "done", "will",
    "would", "can", "could", "should", "has", "have", "had", "not", "no", "so", "as", "if", "into", "than",
    "then", "via", "per",
})
# fmt: on


def load_corpus(path: Path = DEFAULT_CORPUS) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as fh:
        return json.load(fh)


def reference_transcript(dialogue: dict[str, Any]) -> Transcript:
    """A Transcript of a corpus script: one turn per line, roles from the script's speaker."""
    turns = [
        Turn(speaker=t["speaker"], start=float(i), end=float(i + 1), text=t["text"], role=t["speaker"])
        for i, t in enumerate(dialogue["turns"])
    ]
    return Transcript(
        call_id=dialogue["call_id"], engine="reference", duration_s=float(len(turns)), channels=1, turns=turns
    )


def asr_transcript(asr_dir: Path, call_id: str) -> Transcript | None:
    matches = sorted(asr_dir.glob(f"{call_id}*.json"))
    if not matches:
        return None
    with matches[0].open(encoding="utf-8") as fh:
        return Transcript.from_dict(json.load(fh))


def content_tokens(text: str) -> set[str]:
    """Comparable words: figures for numbers, no stop words, crude suffix stripping."""
    words = re.findall(r"\$?[a-z0-9]+(?:[.,][0-9]+)?", normalize_numbers(text).lower())
    out = set()
    for w in words:
        w = w.replace(",", "").lstrip("$")
        if w in _STOP or (len(w) < 2 and not w.isdigit()):
            continue
        for suffix in ("ing", "ed", "es", "s"):
            if len(w) > len(suffix) + 3 and w.endswith(suffix):
                w = w[: -len(suffix)]
                break
        out.add(w)
    return out


def item_recall(truth: list[str], predicted: list[str]) -> float | None:
    """Share of truth items whose content words are mostly (>= 50%) covered by one predicted item."""
    if not truth:
        return None
    pred_tokens = [content_tokens(p) for p in predicted]
    hit = 0
    for item in truth:
        want = content_tokens(item)
        if want and any(len(want & got) / len(want) >= RECALL_THRESHOLD for got in pred_tokens):
            hit += 1
    return hit / len(truth)


def token_f1(truth: str, predicted: str) -> float:
    """F1 of the content words of a predicted text against a truth text (0 when either has none)."""
    want, got = content_tokens(truth), content_tokens(predicted)
    common = len(want & got)
    if not want or not got or not common:
        return 0.0
    precision, recall = common / len(got), common / len(want)
    return 2 * precision * recall / (precision + recall)


@dataclass
class Scores:
    rows: list[dict[str, Any]] = field(default_factory=list)

    def rate(self, key: str, only: Iterable[dict[str, Any]] | None = None) -> tuple[float, int]:
        vals = [r[key] for r in (self.rows if only is None else only) if r.get(key) is not None]
        return (sum(vals) / len(vals) if vals else float("nan")), len(vals)


def score_call(dialogue: dict[str, Any], summary: dict[str, Any] | None, valid: bool) -> dict[str, Any]:
    truth = dialogue["truth"]
    row: dict[str, Any] = {"call_id": dialogue["call_id"], "valid": valid}
    if summary is None:
        return row
    filled = [k for k in REQUESTED if truth.get(k) not in (None, [], "")]
    row["completeness"] = (
        sum(1 for k in filled if summary.get(k) not in (None, [], "")) / len(filled) if filled else None
    )
    row["sentiment"] = summary.get("sentiment") == truth["sentiment"]
    row["category"] = summary.get("category") == CATEGORY_MAP[dialogue["category"]]
    row["resolved"] = summary.get("resolved") == truth["resolved"]
    row["escalated"] = summary.get("escalated") == truth["escalated"]
    for key in ("agent_id", "customer_id"):
        row[key] = summary.get(key) == truth[key]
        row[f"{key}_said"] = row[key] if truth[key] is not None else None
        row[f"{key}_spurious"] = summary.get(key) is not None if truth[key] is None else None
    row["action_items"] = item_recall(truth["action_items"], summary.get("action_items", []))
    row["next_steps"] = item_recall(truth["next_steps"], summary.get("next_steps", []))
    row["key_details"] = item_recall(truth["key_details"], summary.get("key_details", []))
    row["issue_f1"] = (
        token_f1(truth["issue_sentence"], summary.get("issue_sentence") or "")
        if truth.get("issue_sentence")
        else None
    )
    row["predicted"] = {k: summary.get(k) for k in ("sentiment", "category", "resolved", "escalated")}
    row["predicted"].update(agent_id=summary.get("agent_id"), customer_id=summary.get("customer_id"))
    row["truth"] = {k: truth[k] for k in ("sentiment", "resolved", "escalated", "agent_id", "customer_id")}
    row["truth"]["category"] = dialogue["category"]
    return row


def evaluate(
    dialogues: list[dict[str, Any]], backend_name: str = "offline", asr_dir: Path | None = None
) -> tuple[Scores, dict[str, Any]]:
    settings = get_settings().with_overrides(summary_backend=backend_name)
    backend = get_backend(settings)
    scores = Scores()
    totals = {"input_tokens": 0, "output_tokens": 0, "cost_usd": 0.0, "seconds": 0.0, "failures": []}
    for dialogue in dialogues:
        transcript = (
            asr_transcript(asr_dir, dialogue["call_id"]) if asr_dir else reference_transcript(dialogue)
        )
        if transcript is None:
            totals["failures"].append(f"{dialogue['call_id']}: no transcript in {asr_dir}")
            continue
        started = time.perf_counter()
        summary, valid = None, False
        try:
            result = backend.summarize(transcript, dialogue["call_date"])
            summary = result.summary
            validate_summary(summary, result.prompt_version)
            valid = True
            totals["input_tokens"] += result.input_tokens
            totals["output_tokens"] += result.output_tokens
            totals["cost_usd"] += result.cost_usd
        except (SummaryFailed, SummaryTransientError, SummaryInvalid) as exc:
            totals["failures"].append(f"{dialogue['call_id']}: {type(exc).__name__}: {exc}")
        totals["seconds"] += time.perf_counter() - started
        scores.rows.append(score_call(dialogue, summary, valid))
    return scores, totals


def report(scores: Scores, totals: dict[str, Any], backend_name: str, source: str) -> dict[str, Any]:
    def pct(key: str) -> dict[str, Any]:
        value, n = scores.rate(key)
        return {"rate": round(value, 3) if value == value else None, "n": n}

    figures = {
        "backend": backend_name,
        "source": source,
        "calls": len(scores.rows),
        "json_valid": pct("valid"),
        "completeness": pct("completeness"),
        "sentiment_accuracy": pct("sentiment"),
        "category_accuracy": pct("category"),
        "resolved_accuracy": pct("resolved"),
        "escalated_accuracy": pct("escalated"),
        "agent_id_exact_all_calls": pct("agent_id"),
        "agent_id_exact_when_said": pct("agent_id_said"),
        "agent_id_spurious_when_absent": pct("agent_id_spurious"),
        "customer_id_exact_all_calls": pct("customer_id"),
        "customer_id_exact_when_said": pct("customer_id_said"),
        "customer_id_spurious_when_absent": pct("customer_id_spurious"),
        "action_item_recall": pct("action_items"),
        "next_step_recall": pct("next_steps"),
        "key_detail_recall": pct("key_details"),
        "issue_sentence_token_f1": pct("issue_f1"),
        "input_tokens": totals["input_tokens"],
        "output_tokens": totals["output_tokens"],
        "cost_usd": round(totals["cost_usd"], 6),
        "seconds_per_call": round(totals["seconds"] / max(len(scores.rows), 1), 4),
        "failures": totals["failures"],
    }
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--backend", default="offline", choices=("offline", "bedrock", "openai"))
    parser.add_argument("--ids", help="comma-separated call ids (default: all)")
    parser.add_argument("--asr-dir", type=Path, help="folder of speech-to-text Transcript JSON files")
    parser.add_argument(
        "--corpus",
        type=Path,
        default=DEFAULT_CORPUS,
        help="dialogues.json with ground truth (default: the dev corpus; bench/heldout/dialogues.json is "
        "the held-out set)",
    )
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    parser.add_argument("--verbose", action="store_true", help="also print each call's misses")
    args = parser.parse_args(argv)

    dialogues = load_corpus(args.corpus)
    if args.ids:
        wanted = [i.strip() for i in args.ids.split(",") if i.strip()]
        unknown = sorted(set(wanted) - {d["call_id"] for d in dialogues})
        if unknown:
            parser.error(f"unknown call ids: {', '.join(unknown)}")
        dialogues = [d for d in dialogues if d["call_id"] in wanted]
    source = f"asr:{args.asr_dir}" if args.asr_dir else "reference scripts"
    scores, totals = evaluate(dialogues, args.backend, args.asr_dir)
    figures = report(scores, totals, args.backend, source)
    if args.json:
        print(json.dumps(figures, indent=2))
    else:
        print(f"backend={figures['backend']}  source={source}  calls={figures['calls']}")
        for key, value in figures.items():
            if isinstance(value, dict):
                rate = "n/a" if value["rate"] is None else f"{100 * value['rate']:5.1f}%"
                print(f"  {key:34s} {rate:>7s}  (n={value['n']})")
        print(
            f"  tokens in/out {figures['input_tokens']}/{figures['output_tokens']}  "
            f"cost ${figures['cost_usd']:.4f}  {figures['seconds_per_call']:.3f} s/call"
        )
        for failure in figures["failures"]:
            print(f"  FAILED {failure}")
    if args.verbose:
        for row in scores.rows:
            misses = {
                k: (row["predicted"][k], row["truth"][k])
                for k in row.get("predicted", {})
                if k in row["truth"] and row.get(k) is False
            }
            print(
                row["call_id"],
                "valid" if row["valid"] else "INVALID",
                "misses(pred,truth):",
                misses,
                "recall a/n/k:",
                row.get("action_items"),
                row.get("next_steps"),
                row.get("key_details"),
                "issue F1:",
                None if row.get("issue_f1") is None else round(row["issue_f1"], 2),
            )
    return 0 if not figures["failures"] else 1


if __name__ == "__main__":
    sys.exit(main())

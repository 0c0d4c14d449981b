"""Word error rate, speed and role accuracy of a speech-to-text engine on the dev corpus and on real speech.

    python -m bench.stt_benchmark [--engine pocketsphinx] [--ids call-0001,...] [--formats wav,8k,stereo]
                                  [--audio-dir DIR] [--human-dir DIR] [--no-human] [--json]
                                  [--save-transcripts DIR] [--corpus DIALOGUES_JSON] [--jobs N]

`--corpus bench/heldout/dialogues.json` runs the held-out set (bench/heldout/README.md) instead of
the dev corpus; it is rendered by the same render.py.

The dev corpus (../shared/corpus) is rendered with flite + sox into --audio-dir (missing files only;
a temporary folder when not given), and every call is transcribed in each format, its roles
assigned the way the pipeline does (channel wiring for stereo, cue phrases for mono), and scored:

* WER: word-level Levenshtein distance (substitutions + deletions + insertions) over the reference
  word count, pooled over calls (sum of errors / sum of reference words, not a mean of ratios). Both
  sides are normalized alike: lower case, punctuation dropped, contractions spelled out, figures
  written as words ("$42.15" -> "forty two dollars and fifteen cents"), because the references
  spell numbers and an engine that writes "42" has not misheard anything.
* RTF: seconds spent in `engine.transcribe` over seconds of audio (model loading is timed apart).
* role accuracy: of the reference speech time (the union of every turn's start..end in ref.json,
  per speaker), the share covered by a hypothesis turn whose role is that speaker's. Speech the
  engine missed counts as wrong, so this is also a recall of who-spoke-when.

The synthetic corpus is clean and flat: its figures compare engines and settings with each other,
they do not predict real calls. That is why the same engine also runs on real read speech: the
LibriVox clips and the "cards" utterances of Debian's `pocketsphinx-testdata` package
(/usr/share/pocketsphinx/test/data, `apt-get install pocketsphinx-testdata`), skipped with a note when
the package is absent.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from callcare.config import get_settings
from callcare.core.transcript import Transcript
from callcare.transcription.audio import decode_audio
from callcare.transcription.engines import OfflineEngine, get_engine
from callcare.transcription.roles import assign_roles

ROOT = Path(__file__).resolve().parents[1]

CORPUS_DIR = ROOT.parent / "shared" / "corpus"
DEFAULT_CORPUS = CORPUS_DIR / "dialogues.json"
RENDER = CORPUS_DIR / "render.py"
TESTDATA = Path("/usr/share/pocketsphinx/test/data")
# (name, folder, transcription file) of the human read speech sets in pocketsphinx-testdata
HUMAN_SETS = (("librivox", "librivox", "transcription"), ("cards", "cards", "cards.transcription"))
FORMATS = ("wav", "8k", "stereo")
FILE_SUFFIX = {"wav": ".wav", "8k": ".8k.wav", "stereo": ".stereo.wav"}

# ---------------------------------------------------------------------------------------------
# Text normalization

_ONES = [
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven",
    "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen",
]  # fmt: skip
_TENS = ["", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
_SCALES = ((1_000_000_000, "billion"), (1_000_000, "million"), (1_000, "thousand"))
_ORDINAL_WORDS = {
    "one": "first",
    "two": "second",
    "three": "third",
    "five": "fifth",
    "eight": "eighth",
    "nine": "ninth",
    "twelve": "twelfth",
}
_CONTRACTIONS = {
    "can't": "can not",
    "cannot": "can not",
    "won't": "will not",
    "shan't": "shall not",
    "ain't": "is not",
    "let's": "let us",
    "y'all": "you all",
}
# 's is a contraction only after these; elsewhere it is a possessive and stays
_S_IS = frozenset({
    "it", "that", "there", "here", "what", "where", "who", "how", "he", "she",
    "everything", "something", "nothing",
})  # fmt: skip
_SUFFIXES = (
    ("n't", " not"),
    ("'re", " are"),
    ("'ve", " have"),
    ("'ll", " will"),
    ("'m", " am"),
    ("'d", " would"),
)
# spellings that are the same spoken word
_EQUIVALENT = {"ok": "okay", "mr": "mister", "mrs": "missus", "alright": "all right", "email": "e mail"}


def cardinal(n: int) -> str:
    """English words of a non-negative integer, the way the corpus scripts write amounts."""
    if n < 20:
        return _ONES[n]
    if n < 100:
        tens, ones = divmod(n, 10)
        return _TENS[tens] + (f" {_ONES[ones]}" if ones else "")
    if n < 1000:
        hundreds, rest = divmod(n, 100)
        return f"{_ONES[hundreds]} hundred" + (f" {cardinal(rest)}" if rest else "")
    for value, name in _SCALES:
        if n >= value:
            high, rest = divmod(n, value)
            return f"{cardinal(high)} {name}" + (f" {cardinal(rest)}" if rest else "")
    raise AssertionError("unreachable")


def ordinal(n: int) -> str:
    words = cardinal(n).split()
    last = words[-1]
    if last in _ORDINAL_WORDS:
        words[-1] = _ORDINAL_WORDS[last]
    elif last.endswith("y"):
        words[-1] = last[:-1] + "ieth"
    else:
        words[-1] = last + "th"
    return " ".join(words)


def _digits(text: str) -> str:
    return " ".join(_ONES[int(d)] for d in text)


def _integer(text: str) -> str:
    """A figure as people read it: IDs and codes digit by digit, years in pairs, amounts as cardinals."""
    plain = text.replace(",", "")
    if (len(plain) > 1 and plain.startswith("0")) or (len(plain) > 4 and "," not in text):
        return _digits(plain)
    n = int(plain)
    if len(plain) == 4 and "," not in text and (1100 <= n <= 1999 or 2010 <= n <= 2099):
        high, low = divmod(n, 100)
        return f"{cardinal(high)} " + (
            "hundred" if low == 0 else cardinal(low) if low >= 10 else f"oh {cardinal(low)}"
        )
    return cardinal(n)


_MONEY = re.compile(r"\$(\d[\d,]*)(?:\.(\d{2}))?")
_PERCENT = re.compile(r"(\d[\d,]*(?:\.\d+)?)\s?%")
_ORDINAL = re.compile(r"\b(\d+)(st|nd|rd|th)\b", re.IGNORECASE)
_TIME = re.compile(r"\b(\d{1,2}):(\d{2})\b")
_DECIMAL = re.compile(r"\b(\d+)\.(\d+)\b")
_NUMBER = re.compile(r"\d[\d,]*\d|\d")


def _money(match: re.Match[str]) -> str:
    dollars = int(match.group(1).replace(",", ""))
    words = f"{cardinal(dollars)} dollar{'s' if dollars != 1 else ''}"
    if match.group(2) and int(match.group(2)):
        cents = int(match.group(2))
        words += f" and {cardinal(cents)} cent{'s' if cents != 1 else ''}"
    return f" {words} "


def _time(match: re.Match[str]) -> str:
    hours, minutes = int(match.group(1)), int(match.group(2))
    if minutes == 0:
        return f" {cardinal(hours)} "
    return f" {cardinal(hours)} " + (cardinal(minutes) if minutes >= 10 else f"oh {cardinal(minutes)}") + " "


def _decimal(match: re.Match[str]) -> str:
    return f" {_integer(match.group(1))} point {_digits(match.group(2))} "


def spell_numbers(text: str) -> str:
    """Figures written out as words, most specific pattern first."""
    text = _MONEY.sub(_money, text)
    text = _PERCENT.sub(lambda m: f" {m.group(1)} percent ", text)
    text = _ORDINAL.sub(lambda m: f" {ordinal(int(m.group(1)))} ", text)
    text = _TIME.sub(_time, text)
    text = _DECIMAL.sub(_decimal, text)
    return _NUMBER.sub(lambda m: f" {_integer(m.group(0))} ", text)


def _expand(word: str) -> str:
    if word in _CONTRACTIONS:
        return _CONTRACTIONS[word]
    if word.endswith("'s") and word[:-2] in _S_IS:
        return word[:-2] + " is"
    for suffix, replacement in _SUFFIXES:
        if word.endswith(suffix) and len(word) > len(suffix):
            return word[: -len(suffix)] + replacement
    return word


def normalize_words(text: str) -> list[str]:
    """The comparable words of a text: what WER is computed on, for references and hypotheses alike."""
    text = text.replace("\u2019", "'").replace("\u2018", "'")
    text = re.sub(r"</?s>|<sil>|\[[a-z_]+\]", " ", text, flags=re.IGNORECASE)  # sphinx markup, fillers
    text = spell_numbers(text).lower()
    text = re.sub(r"[\u2014\u2013\-/]", " ", text)  # dashes and slashes join words, they are not words
    words: list[str] = []
    for raw in re.findall(r"[a-z0-9']+", text):
        raw = raw.strip("'")
        if not raw:
            continue
        for word in _expand(raw).split():
            word = word.replace("'", "")
            words.extend(_EQUIVALENT.get(word, word).split())
    return words


# ---------------------------------------------------------------------------------------------
# Scoring


@dataclass
class WordErrors:
    substitutions: int = 0
    deletions: int = 0
    insertions: int = 0
    ref_words: int = 0

    @property
    def errors(self) -> int:
        return self.substitutions + self.deletions + self.insertions

    @property
    def wer(self) -> float | None:
        if self.ref_words == 0:
            return None if self.insertions == 0 else float("inf")
        return self.errors / self.ref_words

    def __add__(self, other: WordErrors) -> WordErrors:
        return WordErrors(
            self.substitutions + other.substitutions,
            self.deletions + other.deletions,
            self.insertions + other.insertions,
            self.ref_words + other.ref_words,
        )


def word_errors(reference: Sequence[str], hypothesis: Sequence[str]) -> WordErrors:
    """Minimum edit distance between word sequences, split by kind along one optimal alignment.

    Dynamic programming over (len(ref)+1) x (len(hyp)+1); ties prefer a match or substitution, then
    a deletion, so the split is deterministic. O(n*m) time and memory is fine for a 25-minute call.
    """
    n, m = len(reference), len(hypothesis)
    # cost[i][j]: distance between reference[:i] and hypothesis[:j]
    cost = [[0] * (m + 1) for _ in range(n + 1)]
    for i in range(1, n + 1):
        cost[i][0] = i
    for j in range(1, m + 1):
        cost[0][j] = j
    for i in range(1, n + 1):
        row, above, ref_word = cost[i], cost[i - 1], reference[i - 1]
        for j in range(1, m + 1):
            diagonal = above[j - 1] + (ref_word != hypothesis[j - 1])
            row[j] = min(diagonal, above[j] + 1, row[j - 1] + 1)
    result = WordErrors(ref_words=n)
    i, j = n, m
    while i > 0 or j > 0:
        if i > 0 and j > 0 and cost[i][j] == cost[i - 1][j - 1] + (reference[i - 1] != hypothesis[j - 1]):
            result.substitutions += reference[i - 1] != hypothesis[j - 1]
            i, j = i - 1, j - 1
        elif i > 0 and cost[i][j] == cost[i - 1][j] + 1:
            result.deletions += 1
            i -= 1
        else:
            result.insertions += 1
            j -= 1
    return result


Interval = tuple[float, float]


def _union(intervals: Iterable[Interval]) -> list[Interval]:
    merged: list[list[float]] = []
    for start, end in sorted(intervals):
        if end <= start:
            continue
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return [(s, e) for s, e in merged]


def _intersection_length(a: list[Interval], b: list[Interval]) -> float:
    """Total overlap of two sorted, disjoint interval lists."""
    total, i, j = 0.0, 0, 0
    while i < len(a) and j < len(b):
        total += max(0.0, min(a[i][1], b[j][1]) - max(a[i][0], b[j][0]))
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return total


def role_time(reference_turns: Sequence[dict[str, Any]], transcript: Transcript) -> tuple[float, float]:
    """(seconds of reference speech labelled with the right role, seconds of reference speech)."""
    matched = total = 0.0
    for role in {t["speaker"] for t in reference_turns}:
        spoken = _union((float(t["start"]), float(t["end"])) for t in reference_turns if t["speaker"] == role)
        labelled = _union((t.start, t.end) for t in transcript.turns if t.role == role)
        total += sum(e - s for s, e in spoken)
        matched += _intersection_length(spoken, labelled)
    return matched, total


def reference_words(reference_turns: Sequence[dict[str, Any]]) -> list[str]:
    ordered = sorted(reference_turns, key=lambda t: (float(t["start"]), t.get("index", 0)))
    return [w for t in ordered for w in normalize_words(t["text"])]


def hypothesis_words(transcript: Transcript) -> list[str]:
    """Words in time order across turns, so two channels interleave as the speech did."""
    timed: list[tuple[float, int, str]] = []
    for turn in transcript.turns:
        if turn.words:
            timed.extend((w.start, len(timed), w.text) for w in turn.words)
        else:
            timed.append((turn.start, len(timed), turn.text))
    return [w for _, _, text in sorted(timed) for w in normalize_words(text)]


# ---------------------------------------------------------------------------------------------
# Running


@dataclass
class Tally:
    """Pooled figures of one format (or one human set): sums, so ratios weight long calls more."""

    calls: int = 0
    audio_s: float = 0.0
    decode_s: float = 0.0
    words: WordErrors = field(default_factory=WordErrors)
    role_matched_s: float = 0.0
    role_total_s: float = 0.0

    def add(
        self, audio_s: float, decode_s: float, errors: WordErrors, role: tuple[float, float] | None
    ) -> None:
        self.calls += 1
        self.audio_s += audio_s
        self.decode_s += decode_s
        self.words = self.words + errors
        if role is not None:
            self.role_matched_s += role[0]
            self.role_total_s += role[1]

    def merged(self, other: Tally) -> Tally:
        return Tally(
            self.calls + other.calls,
            self.audio_s + other.audio_s,
            self.decode_s + other.decode_s,
            self.words + other.words,
            self.role_matched_s + other.role_matched_s,
            self.role_total_s + other.role_total_s,
        )

    def figures(self) -> dict[str, Any]:
        wer = self.words.wer
        return {
            "calls": self.calls,
            "wer": None if wer is None else round(wer, 4),
            "ref_words": self.words.ref_words,
            "substitutions": self.words.substitutions,
            "deletions": self.words.deletions,
            "insertions": self.words.insertions,
            "audio_s": round(self.audio_s, 2),
            "decode_s": round(self.decode_s, 2),
            "rtf": round(self.decode_s / self.audio_s, 4) if self.audio_s else None,
            "role_accuracy": (
                round(self.role_matched_s / self.role_total_s, 4) if self.role_total_s else None
            ),
        }


def load_engine(name: str) -> tuple[OfflineEngine, float]:
    """The engine and the seconds its model took to load, kept out of the RTF."""
    engine = get_engine(get_settings().with_overrides(stt_engine=name))
    started = time.perf_counter()
    load = getattr(engine, "load", None)
    if callable(load):
        load()
    return engine, time.perf_counter() - started


def render_corpus(corpus: Path, out: Path, ids: Sequence[str], jobs: int) -> None:
    command = [sys.executable, str(RENDER), str(corpus), str(out), "--ids", ",".join(ids)]
    command += ["--jobs", str(jobs), "--skip-existing"]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"rendering the corpus failed:\n{done.stdout}{done.stderr}")


def run_corpus(
    engine: OfflineEngine,
    audio_dir: Path,
    ids: Sequence[str],
    formats: Sequence[str],
    verbose: bool,
    save_dir: Path | None = None,
) -> tuple[dict[str, Tally], list[dict[str, Any]]]:
    """`save_dir`: each transcript, roles assigned, as `<format>/<call_id>.json` (what
    bench.eval_summaries --asr-dir reads), so the analyzer is scored on this engine's output."""
    tallies = {fmt: Tally() for fmt in formats}
    rows: list[dict[str, Any]] = []
    for call_id in ids:
        ref = json.loads((audio_dir / f"{call_id}.ref.json").read_text(encoding="utf-8"))
        ref_words = reference_words(ref["turns"])
        for fmt in formats:
            audio = decode_audio(audio_dir / f"{call_id}{FILE_SUFFIX[fmt]}")
            started = time.perf_counter()
            transcript = engine.transcribe(call_id, audio)
            decode_s = time.perf_counter() - started
            agent_channel = (
                0 if ref.get("formats", {}).get("stereo", {}).get("left", "agent") == "agent" else 1
            )
            transcript = assign_roles(transcript, agent_channel if audio.channels == 2 else None)
            if save_dir is not None:
                (save_dir / fmt).mkdir(parents=True, exist_ok=True)
                (save_dir / fmt / f"{call_id}.json").write_text(json.dumps(transcript.to_dict()))
            errors = word_errors(ref_words, hypothesis_words(transcript))
            role = role_time(ref["turns"], transcript)
            tallies[fmt].add(audio.duration_s, decode_s, errors, role)
            row = {
                "call_id": call_id,
                "format": fmt,
                **_single(audio.duration_s, decode_s, errors, role).figures(),
            }
            del row["calls"]
            rows.append(row)
            if verbose:
                print(_row_text(f"{call_id} {fmt}", row), file=sys.stderr, flush=True)
    return tallies, rows


def _single(audio_s: float, decode_s: float, errors: WordErrors, role: tuple[float, float] | None) -> Tally:
    tally = Tally()
    tally.add(audio_s, decode_s, errors, role)
    return tally


def read_sphinx_transcription(path: Path) -> dict[str, str]:
    """`<s> words </s> (utterance-id)` lines, the CMU Sphinx test set format."""
    references: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        match = re.fullmatch(r"\s*(.*?)\s*\(([^()]+)\)\s*", line)
        if match:
            references[match.group(2)] = match.group(1)
    return references


def run_human(engine: OfflineEngine, data_dir: Path, verbose: bool) -> dict[str, Tally]:
    tallies: dict[str, Tally] = {}
    for name, folder, transcription in HUMAN_SETS:
        path = data_dir / folder / transcription
        if not path.is_file():
            continue
        tally = Tally()
        for utterance, text in sorted(read_sphinx_transcription(path).items()):
            wav = path.parent / f"{utterance}.wav"
            audio = decode_audio(wav)
            started = time.perf_counter()
            transcript = engine.transcribe(utterance, audio)
            decode_s = time.perf_counter() - started
            errors = word_errors(normalize_words(text), hypothesis_words(transcript))
            tally.add(audio.duration_s, decode_s, errors, None)
            if verbose:
                hyp = " ".join(hypothesis_words(transcript))
                print(
                    f"{name} {utterance}: {errors.errors}/{errors.ref_words} errors; {hyp}", file=sys.stderr
                )
        tallies[name] = tally
    return tallies


# ---------------------------------------------------------------------------------------------
# Report


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def _row_text(label: str, figures: dict[str, Any]) -> str:
    rtf = "-" if figures["rtf"] is None else f"{figures['rtf']:.3f}"
    return (
        f"{label:<22} {figures.get('calls', ''):>5} {figures['audio_s']:>9.1f} {_pct(figures['wer']):>7} "
        f"{figures['substitutions']:>6} {figures['deletions']:>6} {figures['insertions']:>6} "
        f"{figures['ref_words']:>7} {rtf:>6} {_pct(figures['role_accuracy']):>9}"
    )


def render_table(report: dict[str, Any]) -> str:
    header = (
        f"{'set':<22} {'calls':>5} {'audio s':>9} {'WER':>7} {'sub':>6} {'del':>6} {'ins':>6} "
        f"{'words':>7} {'RTF':>6} {'role acc':>9}"
    )
    lines = [
        f"engine: {report['engine']} (model load {report['load_s']:.2f} s, not in RTF)",
        "",
        f"corpus {report.get('corpus', 'dev')} (synthetic flite speech)",
        header,
        "-" * len(header),
    ]
    lines += [_row_text(fmt, figures) for fmt, figures in report["formats"].items()]
    if report["formats"]:
        lines.append(_row_text("total", report["total"]))
    lines += ["", "real read speech (pocketsphinx-testdata)"]
    if report["human"]:
        lines += [header, "-" * len(header)]
        lines += [_row_text(name, figures) for name, figures in report["human"].items()]
    else:
        lines.append(f"  {report.get('human_note', 'skipped')}")
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--engine", help="engine name as CALLCARE_STT_ENGINE takes it (default: the settings')"
    )
    parser.add_argument(
        "--corpus",
        type=Path,
        default=DEFAULT_CORPUS,
        help="dialogues.json to render and score (default: the dev corpus; bench/heldout/dialogues.json "
        "is the held-out set)",
    )
    parser.add_argument("--ids", help="comma-separated call ids (default: every call)")
    parser.add_argument("--formats", default=",".join(FORMATS), help="any of wav,8k,stereo")
    parser.add_argument("--audio-dir", type=Path, help="rendered corpus audio, rendered there when missing")
    parser.add_argument("--jobs", type=int, default=2, help="parallel renders")
    parser.add_argument(
        "--human-dir", type=Path, default=TESTDATA, help="pocketsphinx-testdata's data folder"
    )
    parser.add_argument("--no-human", action="store_true", help="skip the real speech sets")
    parser.add_argument("--per-call", action="store_true", help="include per-call rows (always in --json)")
    parser.add_argument("--verbose", action="store_true", help="progress and hypotheses on stderr")
    parser.add_argument("--json", action="store_true", help="print JSON instead of the table")
    parser.add_argument(
        "--save-transcripts", type=Path, help="write each transcript to DIR/<format>/<call_id>.json"
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    formats = [f.strip() for f in args.formats.split(",") if f.strip()]
    unknown_formats = [f for f in formats if f not in FORMATS]
    if unknown_formats:
        print(
            f"unknown formats: {','.join(unknown_formats)} (choose from {','.join(FORMATS)})", file=sys.stderr
        )
        return 2
    known = [d["call_id"] for d in json.loads(args.corpus.read_text(encoding="utf-8"))]
    ids = [i.strip() for i in args.ids.split(",") if i.strip()] if args.ids else known
    missing = [i for i in ids if i not in known]
    if missing:
        print(f"unknown call ids: {','.join(missing)}", file=sys.stderr)
        return 2

    engine_name = args.engine or get_settings().stt_engine
    engine, load_s = load_engine(engine_name)
    with tempfile.TemporaryDirectory(prefix="stt-bench-") as tmp:
        audio_dir = args.audio_dir or Path(tmp)
        audio_dir.mkdir(parents=True, exist_ok=True)
        if formats:
            render_corpus(args.corpus, audio_dir, ids, args.jobs)
        tallies, rows = run_corpus(engine, audio_dir, ids, formats, args.verbose, args.save_transcripts)

    report: dict[str, Any] = {
        "engine": getattr(engine, "name", engine_name),
        "engine_setting": engine_name,
        "corpus": str(args.corpus),
        "load_s": round(load_s, 3),
        "formats": {fmt: tally.figures() for fmt, tally in tallies.items()},
        "total": _total(tallies.values()).figures(),
        "human": {},
    }
    if args.no_human:
        report["human_note"] = "skipped (--no-human)"
    elif not args.human_dir.is_dir():
        report["human_note"] = f"skipped: {args.human_dir} not found (apt-get install pocketsphinx-testdata)"
    else:
        human = run_human(engine, args.human_dir, args.verbose)
        report["human"] = {name: tally.figures() for name, tally in human.items()}
        if not human:
            report["human_note"] = f"skipped: no transcription files under {args.human_dir}"
    if args.json:
        report["per_call"] = rows
        print(json.dumps(report, indent=2))
    else:
        print(render_table(report))
        if args.per_call:
            print("\nper call")
            print("\n".join(_row_text(f"{r['call_id']} {r['format']}", r) for r in rows))
    return 0


def _total(tallies: Iterable[Tally]) -> Tally:
    total = Tally()
    for tally in tallies:
        total = total.merged(tally)
    return total


if __name__ == "__main__":
    sys.exit(main())

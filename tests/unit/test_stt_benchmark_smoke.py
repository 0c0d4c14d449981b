"""`python -m bench.stt_benchmark` end to end on two dev calls (wav only), and on a stand-in "human" set."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import wave
from pathlib import Path

import numpy as np
import pytest

from tests.support.helpers import checkout_env

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT.parent / "shared" / "corpus" / "dialogues.json"
IDS = "call-0023,call-0047"  # both rendered by the session's corpus_audio fixture
pytestmark = [
    pytest.mark.audio,
    pytest.mark.skipif(not CORPUS.is_file(), reason=f"dev corpus not found at {CORPUS}"),
    pytest.mark.skipif(not (shutil.which("flite") and shutil.which("sox")), reason="needs flite and sox"),
]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bench.stt_benchmark", *args],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=ROOT,
        env=checkout_env(),
        check=False,
    )


def human_set(corpus_audio: Path, root: Path) -> Path:
    """A LibriVox-shaped folder (wav files + Sphinx transcription) cut from two corpus turns.

    pocketsphinx-testdata is a Debian package CI may not have; this exercises the same code path.
    """
    ref = json.loads((corpus_audio / "call-0047.ref.json").read_text())
    with wave.open(str(corpus_audio / "call-0047.wav")) as source:
        rate = source.getframerate()
        samples = np.frombuffer(source.readframes(source.getnframes()), dtype="<i2")
    folder = root / "librivox"
    folder.mkdir(parents=True)
    lines = []
    for turn in ref["turns"][:2]:
        name = f"utt-{turn['index']}"
        clip = samples[int((turn["start"] - 0.2) * rate) : int((turn["end"] + 0.2) * rate)]
        with wave.open(str(folder / f"{name}.wav"), "wb") as out:
            out.setnchannels(1)
            out.setsampwidth(2)
            out.setframerate(rate)
            out.writeframes(clip.tobytes())
        text = " ".join("".join(c for c in turn["text"].lower() if c.isalpha() or c in " '").split())
        lines.append(f"<s> {text} </s> ({name})")
    (folder / "transcription").write_text("\n".join(lines) + "\n")
    return root


def test_benchmark_reports_every_figure(corpus_audio: Path, tmp_path: Path) -> None:
    human = human_set(corpus_audio, tmp_path / "human")
    done = run(
        "--ids",
        IDS,
        "--formats",
        "wav",
        "--audio-dir",
        str(corpus_audio),
        "--human-dir",
        str(human),
        "--json",
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["engine"] == "faster-whisper" and list(report["formats"]) == ["wav"]
    wav = report["formats"]["wav"]
    assert wav["calls"] == 2 and wav["ref_words"] > 150
    # figures, not placeholders: flite speech is easy, so these bounds hold with room to spare
    assert 0.0 < wav["wer"] < 0.5
    assert 0.0 < wav["rtf"] < 5.0
    assert 0.5 < wav["role_accuracy"] <= 1.0
    assert wav["substitutions"] + wav["deletions"] + wav["insertions"] == round(wav["wer"] * wav["ref_words"])
    assert report["total"]["wer"] == wav["wer"]
    assert {(r["call_id"], r["format"]) for r in report["per_call"]} == {
        ("call-0023", "wav"),
        ("call-0047", "wav"),
    }
    librivox = report["human"]["librivox"]
    assert librivox["calls"] == 2 and 0.0 <= librivox["wer"] < 0.6 and librivox["role_accuracy"] is None


def test_table_output_and_bad_arguments(corpus_audio: Path) -> None:
    done = run("--ids", "call-0047", "--formats", "wav", "--audio-dir", str(corpus_audio), "--no-human")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    header = next(line for line in lines if line.startswith("set"))
    assert "WER" in header and "RTF" in header and "role acc" in header
    row = next(line for line in lines if line.startswith("wav "))
    assert row.count("%") == 2  # WER and role accuracy
    assert "skipped (--no-human)" in done.stdout
    bad = run("--ids", "call-9999", "--no-human")
    assert bad.returncode == 2 and "unknown call ids: call-9999" in bad.stderr
    bad_format = run("--formats", "mp3", "--no-human")
    assert bad_format.returncode == 2 and "unknown formats: mp3" in bad_format.stderr

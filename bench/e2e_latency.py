"""End-to-end latency of corpus calls through the running local stack.

    .venv/bin/python -m bench.e2e_latency [--calls 4] [--format wav]

Prints per-stage timings from the registry's events, end-to-end p50/p95 (upload → COMPLETED), and
orchestration overhead: end-to-end minus the compute the backends need for the same recording,
measured in-process on this machine beforehand.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from callcare.config import Settings
from callcare.summarization.choose import get_backend
from callcare.transcription.audio import decode_audio
from callcare.transcription.engines import get_engine
from callcare.transcription.metrics import compute_metrics
from callcare.transcription.roles import assign_roles

from bench.stackbench import corpus_ids, percentile, render, running_stack, timings, wait_all_terminal

SUFFIX = {"wav": ".wav", "8k": ".8k.wav", "stereo": ".stereo.wav"}


def compute_seconds(path: Path, settings: Settings) -> float:
    started = time.perf_counter()
    audio = decode_audio(path)
    transcript = assign_roles(get_engine(settings).transcribe("bench", audio), settings.agent_channel)
    compute_metrics(transcript)
    get_backend(settings).summarize(transcript, "2026-01-01")
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=4)
    parser.add_argument("--format", choices=sorted(SUFFIX), default="wav")
    args = parser.parse_args()
    ids = corpus_ids()[: args.calls]
    with tempfile.TemporaryDirectory() as tmp:
        audio_dir = Path(tmp)
        render(ids, audio_dir)
        files = [audio_dir / f"{cid}{SUFFIX[args.format]}" for cid in ids]
        settings = Settings(home=audio_dir / "unused")
        compute = {f.name: compute_seconds(f, settings) for f in files}
        audio_s = {f.name: decode_audio(f).duration_s for f in files}
        with running_stack({}) as (_stack, registry, home):
            for i, f in enumerate(files):
                shutil.copy(f, home / "inbox" / f"2026-09-{i + 1:02d}_{f.name}")
            drained = wait_all_terminal(registry, len(files), timeout_s=3600)
            rows = timings(registry)
            refs = {c["call_id"]: c["source_ref"] for c in registry.list_calls()}
    print(f"{len(files)} calls ({args.format}), all finished {drained:.0f} s after the drop\n")
    print(f"{'call':<28}{'audio s':>8}{'queued':>8}{'transcr.':>9}{'sum+pub':>9}{'e2e':>7}{'compute':>9}")
    overheads, e2es = [], []
    for row in rows:
        name = refs[row.call_id].split("_", 1)[1]
        stages = row.stage_s()
        e2e = row.end_to_end_s or float("nan")
        e2es.append(e2e)
        overheads.append(e2e - compute[name])
        cells = [stages["queued"], stages["transcribe"], stages["summarize+publish"]]
        print(
            f"{name:<28}{audio_s[name]:>8.1f}"
            + "".join(f"{c:>9.1f}" if c is not None else f"{'-':>9}" for c in cells)
            + f"{e2e:>7.1f}{compute[name]:>9.1f}  {row.status}"
        )
    print(
        f"\nend-to-end (UPLOADED → COMPLETED): p50 {percentile(e2es, 50):.1f} s, p95 {percentile(e2es, 95):.1f} s"
    )
    print(
        f"orchestration overhead (end-to-end − backend compute): p50 {percentile(overheads, 50):.1f} s, "
        f"mean {statistics.mean(overheads):.1f} s"
    )


if __name__ == "__main__":
    main()

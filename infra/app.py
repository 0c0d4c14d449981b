#!/usr/bin/env python3
"""The CDK app's entry point: `cdk synth` / `cdk deploy` run it (cdk.json), and so can Python alone:

    .venv-infra/bin/python infra/app.py        # synthesizes into infra/cdk.out, no npm CLI needed

Context (cdk.json, or `-c callcare:env=prod` with the CLI) chooses the environment; see
callcare_infra/config.py for every key.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
# jsii warns on every start when node is past its end of life; node 20 still synthesizes correctly.
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "18,20")

from callcare_infra.app import build  # noqa: E402


def main() -> None:
    context = None
    outdir = None
    if "CDK_OUTDIR" not in os.environ:  # run directly, not by the CDK CLI: read cdk.json ourselves
        context = json.loads((HERE / "cdk.json").read_text())["context"]
        outdir = str(HERE / "cdk.out")
    stacks = build(context, outdir=outdir)
    stacks.app.synth()


if __name__ == "__main__":
    main()

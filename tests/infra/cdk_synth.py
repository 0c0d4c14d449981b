"""Synthesizing the CDK app for the tests: the configuration under test and the templates it gives."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "18,20")

ACCOUNT = "123456789012"
REGION = "eu-west-1"
CERTIFICATE = f"arn:aws:acm:{REGION}:{ACCOUNT}:certificate/00000000-0000-0000-0000-000000000000"
MODELS = ["anthropic.claude-3-5-haiku-20241022-v1:0", "eu.anthropic.claude-3-7-sonnet-20250219-v1:0"]
PROD_CONTEXT = {
    "callcare:env": "prod",
    "callcare:account": ACCOUNT,
    "callcare:region": REGION,
    "callcare:certificateArn": CERTIFICATE,
    "callcare:bedrockModelIds": MODELS,
    "callcare:natGateways": 2,
}


@dataclass
class Synth:
    stacks: object  # callcare_infra.app.CallcareStacks
    outdir: Path
    templates: dict[str, dict]  # by role: storage, network, ...
    report: dict

    def resources(self, type_: str | None = None):
        """(role, logical id, resource) of every resource, or of one type, across all stacks."""
        for role, template in self.templates.items():
            for logical_id, resource in template.get("Resources", {}).items():
                if type_ is None or resource["Type"] == type_:
                    yield role, logical_id, resource


ROLES = ("storage", "network", "catalog", "alerting", "database", "airflow", "webapp", "audit", "monitoring")


def synthesize(context: dict, outdir: Path) -> Synth:
    from callcare_infra.app import build

    for name in ("CDK_DEFAULT_ACCOUNT", "CDK_DEFAULT_REGION"):
        os.environ.pop(name, None)
    stacks = build(context, outdir=str(outdir))
    stacks.app.synth()  # raises when cdk-nag reports an unacknowledged finding
    templates = {
        role: json.loads((outdir / f"{getattr(stacks, role).stack_name}.template.json").read_text())
        for role in ROLES
    }
    report = json.loads((outdir / "validation-report.json").read_text())
    return Synth(stacks, outdir, templates, report)

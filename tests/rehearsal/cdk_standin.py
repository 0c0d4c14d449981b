"""`cdk deploy` for the rehearsal: the CDK CLI's command line, moto's CloudFormation behind it.

scripts/deploy.sh runs its storage and stacks steps as `$CDK deploy --app <assembly> ...`; the
rehearsal sets CDK to this script, so those steps run as shipped (the stack selection, the
parameters the stacks step lists, the assembly the synth step wrote) and only the CLI binary is
replaced. It understands what deploy.sh passes:

    deploy --app DIR --require-approval never (STACK ... --exclusively | --all) [--parameters S:K=V ...]

A stack that exists is updated in place, as `cdk deploy` does when a later release deploys over an
earlier one (tests/rehearsal/test_artifact_upgrade.py). What each stack became
(tests/rehearsal/moto_cloudformation.Deployed) is appended, as JSON, to $REHEARSAL_CFN_REPORT.
The endpoint is moto's, from AWS_ENDPOINT_URL, as for every other step.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
from pathlib import Path

import boto3

from tests.rehearsal.moto_cloudformation import MotoCloudFormation
from tests.rehearsal.steps import load_deploy_steps


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="cdk (rehearsal)")
    parser.add_argument("command", choices=["deploy"])
    parser.add_argument("stacks", nargs="*")
    parser.add_argument("--app", required=True, type=Path)
    parser.add_argument("--require-approval")
    parser.add_argument("--all", action="store_true")
    parser.add_argument("--exclusively", action="store_true")
    parser.add_argument("--parameters", action="append", default=[])
    args = parser.parse_intermixed_args(argv)

    assembly = load_deploy_steps().Assembly(args.app)
    parameters: dict[str, dict[str, str]] = {}
    for assignment in args.parameters:
        stack, _, pair = assignment.partition(":")
        key, _, value = pair.partition("=")
        parameters.setdefault(stack, {})[key] = value
    names = {assembly.stack_name(s): s for s in assembly.stacks()}
    unknown = (set(args.stacks) | set(parameters)) - set(names)
    if unknown:
        print(f"cdk: no stack {sorted(unknown)} in {args.app}", file=sys.stderr)
        return 1
    if not args.all and not args.exclusively:
        print("cdk: deploy.sh deploys one stack --exclusively, or --all", file=sys.stderr)
        return 1
    selected = list(names) if args.all else args.stacks

    cloudformation = MotoCloudFormation(
        assembly, lambda service: boto3.client(service, region_name=assembly.region)
    )
    with open(os.environ["REHEARSAL_CFN_REPORT"], "a") as report:
        for name in selected:  # assembly order: dependencies first
            deployed = cloudformation.deploy(names[name], parameters.get(name))
            if not deployed.changed:
                print(f"cdk: {name} (no changes)")
                continue
            print(f"cdk: {name} {deployed.status}")
            report.write(json.dumps({"artifact": names[name], **dataclasses.asdict(deployed)}) + "\n")
            if deployed.status not in ("CREATE_COMPLETE", "UPDATE_COMPLETE"):
                return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

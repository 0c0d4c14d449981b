"""cdk-nag AwsSolutions: every acknowledged finding with its reason.

cdk-nag v3 reports through CDK's policy validation (`Validations.of(app).add_plugins(...)`), and a
finding is acknowledged with `Validations.of(construct).acknowledge(id=..., reason=...)`. IAM wildcard
findings (AwsSolutions-IAM5) come one per wildcard: they are acknowledged by `WildcardJustifier`, an
aspect that reads each policy the way cdk-nag does and acknowledges a wildcard only when a rule
below explains it. A new wildcard without a rule here fails synth.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

import aws_cdk as cdk
import jsii
from aws_cdk import aws_iam as iam
from constructs import IConstruct

# Acknowledgment ids are "<plugin>::<rule>".
NAG_PREFIX = "AwsSolutions::"

# Actions that have no resource-level permissions, so `Resource: *` is the only option.
STAR_RESOURCE_ACTIONS = {
    "logs:DescribeLogGroups": "MWAA lists its log groups; the action has no resource-level permissions",
    "s3:GetAccountPublicAccessBlock": "MWAA checks the account's public access block; account-level action",
    "cloudwatch:PutMetricData": "metrics; restricted by the cloudwatch:namespace condition instead",
    "ecr:GetAuthorizationToken": "ECR login for the image pull; the action has no resource-level permissions",
}


@dataclass(frozen=True)
class WildcardRule:
    pattern: str  # regex over the finding, e.g. "Resource::arn:...:log-group:airflow-x-*"
    reason: str


def wildcard_rules(config) -> list[WildcardRule]:
    p = re.escape(config.prefix)
    arn = "arn:<AWS::Partition>"
    region_account = "<AWS::Region>:<AWS::AccountId>"

    def bucket(purpose: str) -> str:
        # bucket names are <prefix>-<purpose>-<account>-<region> (stacks/common.py)
        return rf"{arn}:s3:::{p}-{purpose}-[^/]+"

    return [
        WildcardRule(
            r"Action::s3:(GetObject\*|GetBucket\*|List\*)",
            "MWAA's documented execution-role statement for its source bucket (read-only, that bucket only)",
        ),
        WildcardRule(
            rf"Resource::{bucket('airflow')}/\*",
            "MWAA reads every object of its own source bucket (dags/, plugins.zip, requirements, startup.sh)",
        ),
        WildcardRule(
            rf"Resource::{bucket('lake')}/(raw-audio|transcripts|summaries|tables|warehouse)/\*",
            "per-call objects under the lake prefixes of DESIGN.md; object keys are call ids and dates "
            "(s3:DeleteObject under warehouse/ only, where dbt-athena replaces a table's files)",
        ),
        WildcardRule(
            rf"Resource::{bucket('athena-results')}/results/\*",
            "Athena writes one result object per query under the workgroup's results/ prefix",
        ),
        WildcardRule(
            rf"Resource::{arn}:logs:{region_account}:log-group:airflow-{p}-\*",
            "MWAA creates one log group per component, named airflow-<environment>-<component>",
        ),
        WildcardRule(
            rf"Resource::{arn}:sqs:<AWS::Region>:\*:airflow-celery-\*",
            "MWAA's Celery queues live in an AWS-owned account with generated names (MWAA documentation)",
        ),
        WildcardRule(
            r"Action::kms:GenerateDataKey\*",
            "GenerateDataKey and GenerateDataKeyWithoutPlaintext for SQS and S3 on MWAA's behalf "
            "(kms:ViaService condition, the environment's key only)",
        ),
        WildcardRule(
            rf"Resource::{arn}:transcribe:{region_account}:transcription-job/callcare-\*",
            "Transcribe job names are callcare-<call id>-a<attempt>: one job per processing attempt "
            "of a call, created at run time",
        ),
        WildcardRule(
            rf"Resource::{arn}:secretsmanager:{region_account}:secret:{re.escape(config.secrets_prefix)}"
            r"/(connections|variables|config)/\*",
            "the Airflow Secrets Manager backend reads connections, variables and config under this "
            "environment's prefix only (secret ARNs end in a random suffix)",
        ),
        WildcardRule(
            rf"Resource::{arn}:glue:{region_account}:(database|table)/{re.escape(config.glue_database)}"
            r"(_\*)?(/\*)?",
            "dbt creates and replaces tables in the environment's Glue databases (lake and marts)",
        ),
        WildcardRule(
            rf"Resource::{arn}:bedrock:\*::foundation-model/.+",
            "a cross-region inference profile routes to the same model in its geography's regions",
        ),
    ]


def flatten(node: Any) -> str:
    """cdk-nag's flattenCfnReference (utils/flatten-cfn-reference.js), so findings match exactly."""
    if node is None:
        return ""
    if isinstance(node, str):
        return node.replace("${", "<").replace("}", ">")
    if isinstance(node, dict):
        if "Fn::Join" in node:
            delimiter, items = node["Fn::Join"]
            return delimiter.join(flatten(i) for i in items)
        if "Fn::Sub" in node:
            return flatten(node["Fn::Sub"])
        if "Fn::GetAtt" in node:
            resource, attribute = node["Fn::GetAtt"]
            return f"<{flatten(resource)}.{flatten(attribute)}>"
        if "Fn::ImportValue" in node:
            return flatten(node["Fn::ImportValue"])
        if "Ref" in node:
            return f"<{flatten(node['Ref'])}>"
    return json.dumps(node, separators=(",", ":"))


def _as_list(value: Any) -> list:
    return value if isinstance(value, list) else [value]


def wildcard_findings(document: dict) -> tuple[list[str], set[str]]:
    """IAM5 findings of one policy document, and the actions of its `Resource: *` statements."""
    findings: list[str] = []
    star_actions: set[str] = set()
    for statement in document.get("Statement", []):
        if statement.get("Effect") != "Allow":
            continue
        actions = _as_list(statement.get("Action"))
        for action in actions:
            if "*" in action and f"Action::{action}" not in findings:
                findings.append(f"Action::{action}")
        for resource in _as_list(statement.get("Resource")):
            flat = flatten(resource)
            if flat == "*":
                star_actions.update(actions)
            if "*" in flat and f"Resource::{flat}" not in findings:
                findings.append(f"Resource::{flat}")
    return findings, star_actions


@jsii.implements(cdk.IAspect)
class WildcardJustifier:
    def __init__(self, rules: list[WildcardRule]) -> None:
        self.rules = [(re.compile(r.pattern), r.reason) for r in rules]
        self.unexplained: list[tuple[str, str]] = []

    def visit(self, node: IConstruct) -> None:
        documents = []
        if isinstance(node, (iam.CfnPolicy, iam.CfnManagedPolicy)):
            documents.append(cdk.Stack.of(node).resolve(node.policy_document))
        elif isinstance(node, iam.CfnRole) and node.policies:
            for policy in cdk.Stack.of(node).resolve(node.policies) or []:
                documents.append(policy.get("PolicyDocument", {}))
        for document in documents:
            findings, star_actions = wildcard_findings(document)
            for finding in findings:
                reason = self._reason(finding, star_actions)
                if reason:
                    cdk.Validations.of(node).acknowledge(
                        cdk.Acknowledgment(id=f"{NAG_PREFIX}AwsSolutions-IAM5[{finding}]", reason=reason)
                    )
                else:
                    self.unexplained.append((node.node.path, finding))

    def _reason(self, finding: str, star_actions: set[str]) -> str | None:
        if finding == "Resource::*":
            if star_actions and star_actions <= STAR_RESOURCE_ACTIONS.keys():
                return "; ".join(STAR_RESOURCE_ACTIONS[a] for a in sorted(star_actions))
            return None
        for pattern, reason in self.rules:
            if pattern.fullmatch(finding):
                return reason
        return None


def acknowledge(construct: IConstruct, rule: str, reason: str) -> None:
    cdk.Validations.of(construct).acknowledge(
        cdk.Acknowledgment(id=f"{NAG_PREFIX}AwsSolutions-{rule}", reason=reason)
    )


def suppress(stacks) -> WildcardJustifier:
    """Acknowledge the findings we accept, each with its reason; returns the IAM5 aspect."""
    config = stacks.config
    acknowledge(
        stacks.network.alb_sg,
        "EC23",
        "the caseworker web app is public by design; the ALB accepts only its listener ports and WAF "
        "(rate limit per IP, AWS managed rule groups) filters every request",
    )
    acknowledge(
        stacks.alerting.drive_key,
        "SMG4",
        "a Google service account key: it is issued and rotated in Google Cloud, then put here "
        "(docs/OPERATIONS.md, key rotation); Secrets Manager cannot rotate it",
    )
    acknowledge(
        stacks.alerting.settings_secret,
        "SMG4",
        "setting overrides (the Drive folder id), not a credential: there is nothing to rotate",
    )
    acknowledge(
        stacks.database.instance.node.find_child("Secret"),
        "SMG4",
        "the web app receives the database password at task start; rotation is a runbook step that "
        "restarts the service after rotating (docs/OPERATIONS.md) rather than a silent schedule",
    )
    acknowledge(
        stacks.webapp.secret_key,
        "SMG4",
        "the web app's signing key: rotating it logs every user out, so it is a runbook step that "
        "restarts the service (docs/OPERATIONS.md), not a silent schedule",
    )
    acknowledge(
        stacks.webapp.admin_password,
        "SMG4",
        "the first admin's initial password, read once when the admin is created; the admin changes it "
        "in the app, so rotating the secret would change nothing",
    )
    acknowledge(
        stacks.webapp.service.task_definition,
        "ECS2",
        "the environment holds only non-secret configuration (bucket, region, topic, database host); "
        "credentials are ECS secrets from Secrets Manager",
    )
    if not config.is_prod:
        acknowledge(
            stacks.database.instance, "RDS3", "non-production: single-AZ to halve cost; prod is Multi-AZ"
        )
        acknowledge(
            stacks.database.instance,
            "RDS10",
            "non-production environments are disposable; prod has deletion protection",
        )
    justifier = WildcardJustifier(wildcard_rules(config))
    for stack in stacks.all:
        cdk.Aspects.of(stack).add(justifier)
    return justifier

"""cdk-nag AwsSolutions: the app synthesizes with every finding fixed or acknowledged with a reason, and
the checks do bite."""

from __future__ import annotations

import pytest

pytest.importorskip("aws_cdk", reason="needs the CDK environment: .venv-infra (infra/bootstrap.sh)")

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from callcare_infra.config import DeployConfig
from callcare_infra.nag import WildcardJustifier, flatten, wildcard_findings, wildcard_rules
from cdk_nag import AwsSolutionsChecks

from tests.infra.cdk_synth import synthesize


def test_prod_passes_aws_solutions_checks_with_reasons(prod):
    (plugin,) = prod.report["pluginReports"]
    assert plugin["pluginName"] == "AwsSolutions"
    assert plugin["conclusion"] == "success", plugin["violations"]
    assert plugin["violations"] == []
    suppressed = plugin.get("suppressedViolations", [])
    assert suppressed
    # prod needs neither the single-AZ nor the no-deletion-protection acknowledgment
    assert not {v["ruleName"] for v in suppressed} & {"AwsSolutions-RDS3", "AwsSolutions-RDS10"}
    assert prod.stacks.justifier.unexplained == []


def test_every_acknowledgment_has_a_reason(prod):
    import json

    key = cdk.Validations.ACKNOWLEDGED_RULES_METADATA_KEY
    found = 0
    tree = json.loads((prod.outdir / "manifest.json").read_text())
    assert tree  # the assembly exists
    for stack in prod.stacks.all:
        for construct in stack.node.find_all():
            for entry in construct.node.metadata:
                if entry.type == key:
                    for rule, reason in entry.data.items():
                        assert isinstance(reason, str) and len(reason) > 20, (construct.node.path, rule)
                        found += 1
    assert found >= 20


def test_dev_configuration_passes_too(tmp_path):
    """The default (cdk.json) environment: single-AZ database acknowledged as non-production."""
    dev = synthesize(
        {"callcare:env": "dev", "callcare:account": "123456789012", "callcare:region": "us-east-1"}, tmp_path
    )
    (plugin,) = dev.report["pluginReports"]
    assert plugin["conclusion"] == "success"
    assert {"AwsSolutions-RDS3", "AwsSolutions-RDS10"} <= {
        v["ruleName"] for v in plugin["suppressedViolations"]
    }
    listeners = [r for _, _, r in dev.resources("AWS::ElasticLoadBalancingV2::Listener")]
    assert [r["Properties"]["Protocol"] for r in listeners] == ["HTTP"]  # no certificate configured


def test_checks_fail_an_insecure_bucket_and_an_unexplained_wildcard(tmp_path):
    app = cdk.App(outdir=str(tmp_path))
    stack = cdk.Stack(app, "Insecure", env=cdk.Environment(account="123456789012", region="eu-west-1"))
    s3.Bucket(stack, "Open", block_public_access=s3.BlockPublicAccess.BLOCK_ACLS_ONLY)
    role = iam.Role(stack, "Role", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
    role.add_to_policy(iam.PolicyStatement(actions=["s3:GetObject"], resources=["arn:aws:s3:::somewhere/*"]))
    justifier = WildcardJustifier(wildcard_rules(DeployConfig(env_name="dev")))
    cdk.Aspects.of(stack).add(justifier)
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    with pytest.raises(RuntimeError, match="ValidationFailed") as failure:
        app.synth()
    for rule in ("AwsSolutions-S1'", "AwsSolutions-S2'", "AwsSolutions-S10'", "AwsSolutions-IAM5[Resource::"):
        assert rule in str(failure.value)
    assert justifier.unexplained == [
        ("Insecure/Role/DefaultPolicy/Resource", "Resource::arn:aws:s3:::somewhere/*")
    ]


def test_flatten_matches_cdk_nag_rendering():
    join = {
        "Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":s3:::b/", {"Fn::GetAtt": ["X", "Arn"]}, "/*"]]
    }
    assert flatten(join) == "arn:<AWS::Partition>:s3:::b/<X.Arn>/*"
    assert flatten({"Fn::ImportValue": "Stack:Export"}) == "Stack:Export"
    assert flatten({"Fn::Sub": "arn:${AWS::Partition}:x"}) == "arn:<AWS::Partition>:x"
    findings, star = wildcard_findings(
        {
            "Statement": [
                {"Effect": "Allow", "Action": ["logs:DescribeLogGroups"], "Resource": "*"},
                {"Effect": "Allow", "Action": "kms:GenerateDataKey*", "Resource": "arn:aws:kms:r:a:key/k"},
                {"Effect": "Deny", "Action": "*", "Resource": "*"},
            ]
        }
    )
    assert findings == ["Resource::*", "Action::kms:GenerateDataKey*"]
    assert star == {"logs:DescribeLogGroups"}

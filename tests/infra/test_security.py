"""The CDK app's security properties, asserted on the synthesized templates (prod configuration)."""

from __future__ import annotations

import pytest

pytest.importorskip("aws_cdk", reason="needs the CDK environment: .venv-infra (infra/bootstrap.sh)")

from aws_cdk.assertions import Match, Template

REQUIRED_TAGS = {"Project", "Environment", "ManagedBy", "CostCenter", "Owner", "Compliance"}
IDENTITY_POLICY_TYPES = ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy")


def _as_list(value):
    return value if isinstance(value, list) else [value]


def test_every_bucket_is_encrypted_private_tls_only_and_logged(prod):
    buckets = list(prod.resources("AWS::S3::Bucket"))
    assert len(buckets) == 5  # access logs, lake, airflow artifacts, athena results, cloudtrail
    policies = {
        str(r["Properties"]["Bucket"]): r["Properties"]["PolicyDocument"]
        for _, _, r in prod.resources("AWS::S3::BucketPolicy")
    }
    for role, logical_id, bucket in buckets:
        props = bucket["Properties"]
        rule = props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0][
            "ServerSideEncryptionByDefault"
        ]
        if logical_id.startswith("AccessLogs"):
            # S3 delivers server access logs only to SSE-S3 buckets
            assert rule["SSEAlgorithm"] == "AES256"
        else:
            assert rule["SSEAlgorithm"] == "aws:kms", logical_id
            assert rule["KMSMasterKeyID"], logical_id
            assert props["LoggingConfiguration"]["DestinationBucketName"], logical_id
        assert props["PublicAccessBlockConfiguration"] == {
            "BlockPublicAcls": True,
            "BlockPublicPolicy": True,
            "IgnorePublicAcls": True,
            "RestrictPublicBuckets": True,
        }, logical_id
        assert props["VersioningConfiguration"]["Status"] == "Enabled", logical_id
        document = policies[str({"Ref": logical_id})]
        tls = [
            s
            for s in document["Statement"]
            if s["Effect"] == "Deny"
            and s.get("Condition", {}).get("Bool", {}).get("aws:SecureTransport") == "false"
        ]
        assert tls, f"{role}/{logical_id} has no TLS-only policy"


def test_no_bucket_policy_allows_anonymous_access(prod):
    for _, logical_id, policy in prod.resources("AWS::S3::BucketPolicy"):
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            if statement["Effect"] == "Allow":
                assert statement["Principal"] not in ("*", {"AWS": "*"}), logical_id


def test_data_at_rest_is_encrypted_with_customer_managed_keys(prod):
    keys = list(prod.resources("AWS::KMS::Key"))
    assert keys and all(k["Properties"]["EnableKeyRotation"] for _, _, k in keys)
    for _, logical_id, topic in prod.resources("AWS::SNS::Topic"):
        assert topic["Properties"]["KmsMasterKeyId"], logical_id
    for _, logical_id, secret in prod.resources("AWS::SecretsManager::Secret"):
        assert secret["Properties"]["KmsKeyId"], logical_id
    for _, logical_id, group in prod.resources("AWS::Logs::LogGroup"):
        assert group["Properties"]["KmsKeyId"], logical_id
    ((_, _, db),) = prod.resources("AWS::RDS::DBInstance")
    assert db["Properties"]["StorageEncrypted"] is True and db["Properties"]["KmsKeyId"]
    ((_, _, env),) = prod.resources("AWS::MWAA::Environment")
    assert env["Properties"]["KmsKey"]
    ((_, _, repo),) = prod.resources("AWS::ECR::Repository")
    assert repo["Properties"]["EncryptionConfiguration"]["EncryptionType"] == "KMS"
    ((_, _, trail),) = prod.resources("AWS::CloudTrail::Trail")
    assert trail["Properties"]["KMSKeyId"] and trail["Properties"]["EnableLogFileValidation"] is True
    ((_, _, workgroup),) = prod.resources("AWS::Athena::WorkGroup")
    results = workgroup["Properties"]["WorkGroupConfiguration"]["ResultConfiguration"]
    assert results["EncryptionConfiguration"]["EncryptionOption"] == "SSE_KMS"


def test_no_identity_policy_grants_any_action_on_any_resource(prod):
    from callcare_infra.nag import STAR_RESOURCE_ACTIONS

    documents = []
    for type_ in IDENTITY_POLICY_TYPES:
        documents += [(lid, r["Properties"]["PolicyDocument"]) for _, lid, r in prod.resources(type_)]
    for _, logical_id, role in prod.resources("AWS::IAM::Role"):
        documents += [(logical_id, p["PolicyDocument"]) for p in role["Properties"].get("Policies", [])]
    assert documents
    for logical_id, document in documents:
        for statement in document["Statement"]:
            if statement["Effect"] != "Allow":
                continue
            actions = _as_list(statement["Action"])
            assert "*" not in actions, f"{logical_id}: Action *"
            assert not any(a.endswith(":*") for a in actions), f"{logical_id}: service-wide action {actions}"
            if "*" in _as_list(statement["Resource"]):
                # only actions that have no resource-level permissions may use Resource *
                assert set(actions) <= STAR_RESOURCE_ACTIONS.keys(), f"{logical_id}: {actions} on *"


def test_public_surface_is_the_load_balancer_only(prod):
    open_ingress = []
    for _, logical_id, sg in prod.resources("AWS::EC2::SecurityGroup"):
        for rule in sg["Properties"].get("SecurityGroupIngress", []):
            if rule.get("CidrIp") == "0.0.0.0/0" or rule.get("CidrIpv6") == "::/0":
                open_ingress.append((logical_id, rule["FromPort"]))
    assert {lid for lid, _ in open_ingress} == {
        next(k for k in prod.templates["network"]["Resources"] if k.startswith("AlbSg"))
    }
    assert sorted(port for _, port in open_ingress) == [80, 443]  # 80 only redirects to HTTPS
    ((_, _, db),) = prod.resources("AWS::RDS::DBInstance")
    assert db["Properties"]["PubliclyAccessible"] is False
    ((_, _, env),) = prod.resources("AWS::MWAA::Environment")
    assert env["Properties"]["WebserverAccessMode"] == "PRIVATE_ONLY"


def test_tags_on_everything(prod):
    tagged = 0
    for role, logical_id, resource in prod.resources():
        tags = resource.get("Properties", {}).get("Tags")
        if tags is None:
            continue
        keys = set(tags) if isinstance(tags, dict) else {t["Key"] for t in tags}
        assert keys >= REQUIRED_TAGS, f"{role}/{logical_id} ({resource['Type']}) lacks {REQUIRED_TAGS - keys}"
        tagged += 1
    # the resource types that must carry tags do
    must = (
        "AWS::S3::Bucket",
        "AWS::KMS::Key",
        "AWS::SNS::Topic",
        "AWS::SecretsManager::Secret",
        "AWS::EC2::VPC",
        "AWS::EC2::SecurityGroup",
        "AWS::IAM::Role",
        "AWS::RDS::DBInstance",
        "AWS::ECS::Cluster",
        "AWS::ECS::Service",
        "AWS::ElasticLoadBalancingV2::LoadBalancer",
        "AWS::WAFv2::WebACL",
        "AWS::CloudTrail::Trail",
        "AWS::Athena::WorkGroup",
        "AWS::MWAA::Environment",
        "AWS::ECR::Repository",
        "AWS::Logs::LogGroup",
    )
    for type_ in must:
        found = list(prod.resources(type_))
        assert found, type_
        for _, logical_id, resource in found:
            assert "Tags" in resource["Properties"], f"{logical_id} ({type_}) has no tags"
    assert tagged > 50
    tags = prod.templates["airflow"]["Resources"]
    (env,) = [r for r in tags.values() if r["Type"] == "AWS::MWAA::Environment"]
    assert env["Properties"]["Tags"]["Environment"] == "prod"


def test_cloudtrail_records_lake_data_events(prod):
    template = Template.from_json(prod.templates["audit"])
    template.has_resource_properties(
        "AWS::CloudTrail::Trail",
        {
            "IsMultiRegionTrail": True,
            "IncludeGlobalServiceEvents": True,
            "EventSelectors": Match.array_with(
                [Match.object_like({"ReadWriteType": "All", "DataResources": Match.any_value()})]
            ),
        },
    )


def test_secret_reads_are_scoped_to_what_each_reader_needs(prod):
    """MWAA reads only what Airflow's secrets backend looks up (connections, variables, config): the
    web app's signing key and admin password live under the same prefix and must stay out of reach."""
    granted = []
    for type_ in IDENTITY_POLICY_TYPES:
        for _, logical_id, resource in prod.resources(type_):
            for statement in resource["Properties"]["PolicyDocument"]["Statement"]:
                if "secretsmanager:GetSecretValue" in _as_list(statement["Action"]):
                    granted += [(logical_id, str(r)) for r in _as_list(statement["Resource"])]
    assert granted
    for logical_id, resource in granted:
        assert "/web/" not in resource, f"{logical_id} may read a web secret: {resource}"
        if "callcare/prod/" in resource and resource.endswith("/*"):
            kind = resource.rsplit("callcare/prod/", 1)[1].split("/")[0]
            assert kind in {"connections", "variables", "config"}, f"{logical_id}: {resource}"

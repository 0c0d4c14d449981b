"""The rehearsal's stand-in for `cdk deploy`: the synthesized stacks created in moto's CloudFormation.

The CDK CLI deploys to AWS only (scripts/deploy.sh refuses it under AWS_ENDPOINT_URL), so the
rehearsal hands the very templates the synth step wrote to moto's CloudFormation instead. moto 5.2
creates most resource types from a template and silently skips the rest (a blank row in
ListStackResources). This module:

- checks what moto created, against the template, rather than assuming: `Deployed.skipped_by_moto`
  lists every resource moto left out, so a test can say which ones the rehearsal lives without;
- creates the skipped types the rehearsal needs through their own APIs, with CloudFormation's
  semantics (LOADED_TYPES): the Secrets Manager secrets (CloudFormation generates their strings; the
  web task definition and the MWAA secrets backend reference them), the secret target attachment
  (CloudFormation adds the database's engine, host, port and name to its secret), the Glue
  databases, Glue tables and Athena workgroup the MWAA options name, and the CloudWatch alarms (the
  dashboard shows them); and, after moto created a bucket, the properties moto's CloudFormation
  drops (a bucket's versioning: MWAA reads its artifacts by object version; a role's managed
  policies). Their Ref and Fn::GetAtt values (a secret's ARN, an alarm's ARN...) replace
  the references in the template before moto sees it, so what refers to them gets real values, as
  on AWS;
- works around two moto defects with a documented template transform (moto_transform): CDK writes
  a KMS key policy as a JSON object and tags as Key/Value, moto expects a string and TagKey/TagValue
  (the key is not created at all, or DescribeKey answers 500); and moto resolves a Ref to a
  DB parameter group to the object, not its name, so the instance goes without the group.

What moto skips and nothing here creates (MWAA itself, WAF, CloudTrail, alarms, bucket and topic
policies...) is listed in NOT_LOADED with the reason the rehearsal can do without it.

Nothing here decides a value: names, generated-string rules, KMS keys and table definitions all come
from the template.
"""

from __future__ import annotations

import copy
import json
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

# Skipped by moto 5.2's CloudFormation and created here from the template, with CloudFormation's
# semantics (each one's Ref value is what CloudFormation's Ref returns).
LOADED_TYPES = (
    "AWS::SecretsManager::Secret",
    "AWS::SecretsManager::SecretTargetAttachment",
    "AWS::Glue::Database",
    "AWS::Glue::Table",
    "AWS::Athena::WorkGroup",
    "AWS::CloudWatch::Alarm",
)
# Skipped by moto 5.2 and not created: why the rehearsal does without each.
NOT_LOADED = {
    "AWS::MWAA::Environment": "moto has no MWAA; the rehearsal runs Airflow from the environment's "
    "options in the template, as MWAA's own runtime does",
    "AWS::WAFv2::WebACL": "request filtering in front of the load balancer; no ALB traffic here",
    "AWS::WAFv2::WebACLAssociation": "as the web ACL",
    "AWS::CloudTrail::Trail": "an audit trail of API calls; nothing reads it",
    "AWS::S3::BucketPolicy": "TLS-only and log-delivery policies; moto serves plain HTTP",
    "AWS::SNS::TopicPolicy": "TLS-only publishing and the alarm service's grant; moto serves plain HTTP",
    "AWS::SNS::Subscription": "email subscriptions, created only with an address (none here)",
    "AWS::EC2::SecurityGroupEgress": "network rules; no packets cross a VPC here",
}
CAPABILITIES = ["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"]


# -- template transforms for moto's defects ---------------------------------------------------------

INTRINSICS = {"Ref", "Fn::GetAtt", "Fn::Join", "Fn::Sub", "Fn::If", "Fn::ImportValue", "Fn::Select"}


def _json_with_intrinsics(value: Any) -> dict:
    """An object holding intrinsic functions as one Fn::Join that evaluates to its JSON text.

    CloudFormation accepts a key policy as an object or as its JSON text; moto stores whatever it
    gets and later json.loads() it, so it needs the text. The references inside (the account root,
    the log service's ARN...) must still resolve, hence a Fn::Join of literal JSON pieces and the
    references themselves (each inside quotes: they all resolve to strings).
    """
    parts: list[Any] = []

    def emit(piece: Any) -> None:
        if isinstance(piece, str) and parts and isinstance(parts[-1], str):
            parts[-1] += piece
        else:
            parts.append(piece)

    def walk(node: Any) -> None:
        if isinstance(node, dict) and len(node) == 1 and next(iter(node)) in INTRINSICS:
            emit('"')
            parts.append(node)
            emit('"')
        elif isinstance(node, dict):
            emit("{")
            for i, (key, item) in enumerate(node.items()):
                emit(("," if i else "") + json.dumps(key) + ":")
                walk(item)
            emit("}")
        elif isinstance(node, list):
            emit("[")
            for i, item in enumerate(node):
                if i:
                    emit(",")
                walk(item)
            emit("]")
        else:
            emit(json.dumps(node))

    walk(value)
    return {"Fn::Join": ["", parts]}


def moto_transform(template: dict) -> dict:
    """The template with moto 5.2's two defects worked around (see the module docstring)."""
    template = copy.deepcopy(template)
    resources = template["Resources"]
    for resource in resources.values():
        if resource["Type"] == "AWS::KMS::Key":
            props = resource["Properties"]
            if isinstance(props.get("KeyPolicy"), dict):
                props["KeyPolicy"] = _json_with_intrinsics(props["KeyPolicy"])
            props["Tags"] = [{"TagKey": t["Key"], "TagValue": t["Value"]} for t in props.get("Tags", [])]
        if resource["Type"] == "AWS::RDS::DBInstance":
            # moto resolves the Ref to the group to the group object and fails; its generated name is
            # not known before. The instance gets the engine's default group in moto: the group's
            # parameters (rds.force_ssl...) are checked by tests/infra, not here.
            resource["Properties"].pop("DBParameterGroupName", None)
    return template


# -- references -------------------------------------------------------------------------------------


def _replace_references(node: Any, refs: dict[str, Any], atts: dict[tuple[str, str], Any]) -> Any:
    """node with {"Ref": id} and {"Fn::GetAtt": [id, attr]} replaced by literal values."""
    if isinstance(node, dict):
        if len(node) == 1 and "Ref" in node and node["Ref"] in refs:
            return refs[node["Ref"]]
        if len(node) == 1 and "Fn::GetAtt" in node:
            target = node["Fn::GetAtt"]
            target = target.split(".", 1) if isinstance(target, str) else target
            if tuple(target) in atts:
                return atts[tuple(target)]
        return {k: _replace_references(v, refs, atts) for k, v in node.items()}
    if isinstance(node, list):
        return [_replace_references(v, refs, atts) for v in node]
    return node


@dataclass
class Evaluator:
    """Resolves the properties of a resource created here: parameters, pseudo parameters, imports."""

    parameters: dict[str, str]
    pseudo: dict[str, str]
    exports: Callable[[], dict[str, str]]
    refs: dict[str, Any] = field(default_factory=dict)
    atts: dict[tuple[str, str], Any] = field(default_factory=dict)

    def __call__(self, node: Any) -> Any:
        if isinstance(node, list):
            return [self(v) for v in node]
        if not isinstance(node, dict):
            return node
        if len(node) != 1 or next(iter(node)) not in INTRINSICS | {"Fn::Split"}:
            return {k: self(v) for k, v in node.items()}
        (function, argument), *_ = node.items()
        if function == "Ref":
            for source in (self.pseudo, self.parameters, self.refs):
                if argument in source:
                    return source[argument]
            raise KeyError(f"Ref {argument}: not a parameter or a resource created here")
        if function == "Fn::ImportValue":
            return self.exports()[self(argument)]
        if function == "Fn::Join":
            return argument[0].join(str(self(p)) for p in argument[1])
        if function == "Fn::Select":
            return self(argument[1])[int(self(argument[0]))]
        if function == "Fn::Split":
            return self(argument[1]).split(argument[0])
        raise NotImplementedError(f"{function} in a resource the rehearsal creates")


# -- deploying --------------------------------------------------------------------------------------


@dataclass
class Deployed:
    """What one stack became: moto's rows, what moto skipped, what the loader created."""

    stack: str
    status: str
    created_by_moto: dict[str, str]  # logical id -> physical id (moto gives none to some, e.g. SG rules)
    row_status: dict[str, str]  # logical id -> ResourceStatus of moto's row
    skipped_by_moto: dict[str, str]  # logical id -> type
    loaded: dict[str, str]  # logical id -> physical id (name or ARN)
    kept: list[str] = field(default_factory=list)  # on an update: loaded types that existed, kept
    changed: bool = True  # False: an update with the template and parameters the stack holds


class MotoCloudFormation:
    """Creates an assembly's stacks in moto, in dependency order, with the deploy step's parameters."""

    def __init__(self, assembly, client: Callable[[str], Any]) -> None:
        """assembly: scripts/deploy_steps.Assembly; client(service): a boto3 client of moto's server."""
        self.assembly = assembly
        self.cfn = client("cloudformation")
        self.sm = client("secretsmanager")
        self.glue = client("glue")
        self.athena = client("athena")
        self.rds = client("rds")
        self.cloudwatch = client("cloudwatch")
        self.s3 = client("s3")
        self.iam = client("iam")

    def _exports(self) -> dict[str, str]:
        exports: dict[str, str] = {}
        for page in self.cfn.get_paginator("list_exports").paginate():
            exports.update({e["Name"]: e["Value"] for e in page["Exports"]})
        return exports

    def deploy(self, stack: str, parameters: dict[str, str] | None = None) -> Deployed:
        """Create the stack, or update it in place when a stack of that name exists (a later release
        deployed over an earlier one).

        An update is CloudFormation's: moto's UpdateStack for the types it handles, and through their
        APIs what it drops. The types created here that already exist are kept as they are (a secret's
        generated string survives an update, as on AWS; a secret attachment is not applied again over
        what the operator's database settings made of it); those new in the template are created. A
        changed property of a type created here would not be applied: check `Deployed.kept` when a
        release changes one (none has so far).
        """
        name = self.assembly.stack_name(stack)
        updating = name in {s["StackName"] for s in self.cfn.describe_stacks()["Stacks"]}
        original = self.assembly.template(stack)
        template = moto_transform(original)
        resources = template["Resources"]
        params = {
            name: str(p["Default"]) for name, p in template.get("Parameters", {}).items() if "Default" in p
        }
        params.update(parameters or {})
        evaluate = Evaluator(
            parameters=params,
            pseudo={**self.assembly._pseudo, "AWS::StackName": self.assembly.stack_name(stack)},
            exports=self._exports,
        )
        loaded: dict[str, str] = {}
        kept: list[str] = []  # created here by an earlier deploy, left as they are
        attachments: list[tuple[str, dict]] = []
        for logical_id in self._in_dependency_order(resources):
            resource = resources[logical_id]
            if resource["Type"] not in LOADED_TYPES:
                continue
            if resource["Type"] == "AWS::SecretsManager::SecretTargetAttachment":
                # its Ref is the secret's ARN; the database it describes exists once moto made it
                props = resource["Properties"]
                evaluate.refs[logical_id] = evaluate(props["SecretId"])
                if updating:
                    kept.append(logical_id)
                else:
                    attachments.append((logical_id, props))
            else:
                existing = self._existing(resource, evaluate) if updating else None
                if existing is not None:
                    kept.append(logical_id)
                ref, atts = existing or self._create(resource, logical_id, evaluate)
                evaluate.refs[logical_id] = ref
                evaluate.atts.update({(logical_id, name): value for name, value in atts.items()})
            loaded[logical_id] = evaluate.refs[logical_id]
        for logical_id in loaded:
            del resources[logical_id]
        for resource in resources.values():
            depends = resource.get("DependsOn")
            if isinstance(depends, list):
                resource["DependsOn"] = [d for d in depends if d not in loaded]
            elif depends in loaded:
                del resource["DependsOn"]
        template = _replace_references(template, dict(evaluate.refs), dict(evaluate.atts))

        request = {
            "StackName": name,
            "TemplateBody": json.dumps(template),
            "Parameters": [{"ParameterKey": k, "ParameterValue": v} for k, v in (parameters or {}).items()],
            "Capabilities": CAPABILITIES,
        }
        before: dict[str, str] = {}
        if updating:
            held = self.cfn.describe_stacks(StackName=name)["Stacks"][0]
            held_parameters = {p["ParameterKey"]: p["ParameterValue"] for p in held.get("Parameters", [])}
            held_body = self.cfn.get_template(StackName=name)["TemplateBody"]
            held_template = held_body if isinstance(held_body, dict) else json.loads(held_body)
            same_parameters = all(held_parameters.get(k) == v for k, v in (parameters or {}).items())
            if held_template == template and same_parameters:
                # `cdk deploy` of an unchanged stack: "(no changes)", nothing happens
                return Deployed(name, held["StackStatus"], {}, {}, {}, loaded, kept, changed=False)
            # moto's update drops the physical id of a type it cannot update (a managed policy)
            before = {
                r["LogicalResourceId"]: r.get("PhysicalResourceId", "")
                for r in self.cfn.list_stack_resources(StackName=name)["StackResourceSummaries"]
                if r.get("ResourceType")
            }
            self.cfn.update_stack(**request)
        else:
            self.cfn.create_stack(**request)
        status = self.cfn.describe_stacks(StackName=name)["Stacks"][0]["StackStatus"]
        rows = self.cfn.list_stack_resources(StackName=name)["StackResourceSummaries"]
        # moto's rows, with what the update dropped (a managed policy's ARN) taken from before it
        created = {
            r["LogicalResourceId"]: r.get("PhysicalResourceId") or before.get(r["LogicalResourceId"], "")
            for r in rows
            if r.get("ResourceType")
        }
        created.update(
            {lid: arn for lid, arn in before.items() if arn and lid in resources and not created.get(lid)}
        )
        for _, props in attachments:
            self._attach(props, created, evaluate)
        evaluate.refs.update({lid: physical for lid, physical in created.items() if lid not in evaluate.refs})
        self._complete(resources, created, evaluate)
        if updating:
            self._update_managed_policies(resources, created, evaluate)
        skipped = {lid: r["Type"] for lid, r in resources.items() if lid not in created}
        row_status = {r["LogicalResourceId"]: r["ResourceStatus"] for r in rows if r.get("ResourceType")}
        return Deployed(name, status, created, row_status, skipped, loaded, kept)

    @staticmethod
    def _in_dependency_order(resources: dict[str, dict]) -> list[str]:
        ordered: list[str] = []

        def refs(node: Any) -> set[str]:
            found: set[str] = set()
            if isinstance(node, dict):
                if "Ref" in node and isinstance(node["Ref"], str):
                    found.add(node["Ref"])
                if "Fn::GetAtt" in node:
                    target = node["Fn::GetAtt"]
                    found.add(target.split(".")[0] if isinstance(target, str) else target[0])
                for value in node.values():
                    found |= refs(value)
            elif isinstance(node, list):
                for value in node:
                    found |= refs(value)
            return found

        def visit(logical_id: str, path: tuple[str, ...] = ()) -> None:
            if logical_id in ordered or logical_id in path:
                return
            resource = resources[logical_id]
            depends = resource.get("DependsOn", [])
            needs = (set([depends] if isinstance(depends, str) else depends) | refs(resource)) & set(
                resources
            )
            for need in sorted(needs):
                visit(need, (*path, logical_id))
            ordered.append(logical_id)

        for logical_id in resources:
            visit(logical_id)
        return ordered

    # -- the types moto skips, created as CloudFormation does ------------------------------------
    def _create(self, resource: dict, logical_id: str, evaluate: Evaluator) -> tuple[str, dict[str, str]]:
        """Create one resource through its API: (its Ref value, its Fn::GetAtt values)."""
        props = evaluate(resource.get("Properties", {}))
        kind = resource["Type"]
        if kind == "AWS::SecretsManager::Secret":
            return self._secret(props, logical_id), {}
        if kind == "AWS::Glue::Database":
            self.glue.create_database(CatalogId=props["CatalogId"], DatabaseInput=props["DatabaseInput"])
            return props["DatabaseInput"]["Name"], {}
        if kind == "AWS::Glue::Table":
            self.glue.create_table(
                CatalogId=props["CatalogId"],
                DatabaseName=props["DatabaseName"],
                TableInput=props["TableInput"],
            )
            return props["TableInput"]["Name"], {}
        if kind == "AWS::Athena::WorkGroup":
            self.athena.create_work_group(
                Name=props["Name"],
                Description=props.get("Description", ""),
                Configuration=props.get("WorkGroupConfiguration", {}),
                Tags=props.get("Tags", []),
            )
            return props["Name"], {}
        if kind == "AWS::CloudWatch::Alarm":
            self.cloudwatch.put_metric_alarm(**props)  # the resource's properties are the API's
            a = self.assembly
            return props["AlarmName"], {
                "Arn": f"arn:{a.partition}:cloudwatch:{a.region}:{a.account}:alarm:{props['AlarmName']}"
            }
        raise NotImplementedError(kind)

    def _existing(self, resource: dict, evaluate: Evaluator) -> tuple[str, dict[str, str]] | None:
        """On an update: (Ref, Fn::GetAtt values) of a resource an earlier deploy created, or None."""
        props = evaluate(resource.get("Properties", {}))
        kind = resource["Type"]
        try:
            if kind == "AWS::SecretsManager::Secret":
                return self.sm.describe_secret(SecretId=props["Name"])["ARN"], {}
            if kind == "AWS::Glue::Database":
                name = props["DatabaseInput"]["Name"]
                self.glue.get_database(CatalogId=props["CatalogId"], Name=name)
                return name, {}
            if kind == "AWS::Glue::Table":
                name = props["TableInput"]["Name"]
                self.glue.get_table(
                    CatalogId=props["CatalogId"], DatabaseName=props["DatabaseName"], Name=name
                )
                return name, {}
            if kind == "AWS::Athena::WorkGroup":
                self.athena.get_work_group(WorkGroup=props["Name"])
                return props["Name"], {}
        except (self.sm.exceptions.ResourceNotFoundException, self.glue.exceptions.EntityNotFoundException):
            return None
        except self.athena.exceptions.InvalidRequestException:
            return None
        return None  # alarms: PutMetricAlarm creates or replaces, as CloudFormation's update does

    def _update_managed_policies(
        self, resources: dict[str, dict], created: dict[str, str], evaluate: Evaluator
    ) -> None:
        """A managed policy whose document changed gets a new default version, as CloudFormation's
        update makes it (moto's UpdateStack leaves AWS::IAM::ManagedPolicy as it was)."""
        for logical_id, resource in resources.items():
            if resource["Type"] != "AWS::IAM::ManagedPolicy" or logical_id not in created:
                continue
            arn = created[logical_id]
            document = self._policy_document(
                resource["Properties"]["PolicyDocument"], resources, created, evaluate
            )
            policy = self.iam.get_policy(PolicyArn=arn)["Policy"]
            current = self.iam.get_policy_version(PolicyArn=arn, VersionId=policy["DefaultVersionId"])
            held = current["PolicyVersion"]["Document"]
            held = json.loads(urllib.parse.unquote(held)) if isinstance(held, str) else held
            if held == document:
                continue
            versions = self.iam.list_policy_versions(PolicyArn=arn)["Versions"]
            if len(versions) >= 5:  # IAM keeps five; CloudFormation drops the oldest
                oldest = min(
                    (v for v in versions if not v["IsDefaultVersion"]), key=lambda v: v["CreateDate"]
                )
                self.iam.delete_policy_version(PolicyArn=arn, VersionId=oldest["VersionId"])
            self.iam.create_policy_version(
                PolicyArn=arn, PolicyDocument=json.dumps(document), SetAsDefault=True
            )

    def _policy_document(
        self, node: Any, resources: dict[str, dict], created: dict[str, str], evaluate: Evaluator
    ) -> Any:
        """A policy document's intrinsics resolved from what exists: Fn::GetAtt <id>.Arn of a bucket,
        queue, topic or key in this stack through its API, the rest by the evaluator."""
        atts: dict[tuple[str, str], Any] = {}

        def collect(value: Any) -> None:
            if isinstance(value, dict):
                if len(value) == 1 and "Fn::GetAtt" in value:
                    target = value["Fn::GetAtt"]
                    lid, attribute = target.split(".", 1) if isinstance(target, str) else target
                    atts[(lid, attribute)] = self._arn(resources[lid]["Type"], attribute, created[lid])
                for inner in value.values():
                    collect(inner)
            elif isinstance(value, list):
                for inner in value:
                    collect(inner)

        collect(node)
        return evaluate(_replace_references(node, {}, {**evaluate.atts, **atts}))

    def _arn(self, kind: str, attribute: str, physical: str) -> str:
        """Fn::GetAtt .Arn of a resource moto created, from its physical id (what CloudFormation returns)."""
        a = self.assembly
        if attribute != "Arn":
            raise NotImplementedError(f"Fn::GetAtt {kind}.{attribute} in a managed policy")
        if physical.startswith("arn:"):
            return physical
        if kind == "AWS::S3::Bucket":
            return f"arn:{a.partition}:s3:::{physical}"
        if kind == "AWS::SQS::Queue":  # its physical id is the queue's URL
            return f"arn:{a.partition}:sqs:{a.region}:{a.account}:{physical.rsplit('/', 1)[1]}"
        if kind == "AWS::KMS::Key":
            return f"arn:{a.partition}:kms:{a.region}:{a.account}:key/{physical}"
        if kind == "AWS::IAM::Role":
            return self.iam.get_role(RoleName=physical)["Role"]["Arn"]
        raise NotImplementedError(f"Fn::GetAtt {kind}.Arn in a managed policy")

    def _secret(self, props: dict, logical_id: str) -> str:
        """A secret as CloudFormation makes it: the given string, or one Secrets Manager generates."""
        value = props.get("SecretString")
        if value is None:
            spec = dict(props.get("GenerateSecretString", {}))
            template, key = spec.pop("SecretStringTemplate", None), spec.pop("GenerateStringKey", None)
            password = self.sm.get_random_password(**spec)["RandomPassword"]
            value = password if template is None else json.dumps({**json.loads(template), key: password})
        kwargs = {
            "Name": props.get("Name", logical_id),
            "SecretString": value,
            "Tags": props.get("Tags", []),
        }
        for name in ("Description", "KmsKeyId"):
            if name in props:
                kwargs[name] = props[name]
        return self.sm.create_secret(**kwargs)["ARN"]

    def _complete(self, resources: dict[str, dict], created: dict[str, str], evaluate: Evaluator) -> None:
        """Properties moto's CloudFormation drops from resources it creates, applied through their APIs.

        An AWS::S3::Bucket gets only its name, encryption and tags: versioning matters here (MWAA reads
        plugins.zip, requirements.txt and startup.sh by object version, and the upload step refuses an
        unversioned bucket), and the public access block is applied too; lifecycle rules are left to
        tests/infra, which checks them in the template. An AWS::IAM::Role gets no ManagedPolicyArns:
        the MWAA execution role's permissions are all in its managed policy.
        """
        for logical_id, resource in resources.items():
            if logical_id not in created:
                continue
            props = resource.get("Properties", {})
            if resource["Type"] == "AWS::IAM::Role":
                for arn in evaluate(props.get("ManagedPolicyArns", [])):
                    self.iam.attach_role_policy(RoleName=created[logical_id], PolicyArn=arn)
            if resource["Type"] != "AWS::S3::Bucket":
                continue
            bucket = created[logical_id]
            if "VersioningConfiguration" in props:
                status = props["VersioningConfiguration"]["Status"]
                self.s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": status})
            if "PublicAccessBlockConfiguration" in props:
                self.s3.put_public_access_block(
                    Bucket=bucket, PublicAccessBlockConfiguration=props["PublicAccessBlockConfiguration"]
                )

    def _attach(self, props: dict, created: dict[str, str], evaluate: Evaluator) -> None:
        """SecretTargetAttachment: CloudFormation adds the database's connection details to the secret.

        For an RDS instance: engine, host, port, dbInstanceIdentifier, and dbname when the instance
        was created with a database name (the keys of Secrets Manager's database credential JSON).
        """
        if props["TargetType"] != "AWS::RDS::DBInstance":
            raise NotImplementedError(props["TargetType"])
        target = props["TargetId"]
        identifier = created[target["Ref"]] if isinstance(target, dict) else target
        instance = self.rds.describe_db_instances(DBInstanceIdentifier=identifier)["DBInstances"][0]
        secret_id = evaluate(props["SecretId"])
        value = json.loads(self.sm.get_secret_value(SecretId=secret_id)["SecretString"])
        value.update(
            engine=instance["Engine"],
            host=instance["Endpoint"]["Address"],
            port=instance["Endpoint"]["Port"],
            dbInstanceIdentifier=instance["DBInstanceIdentifier"],
        )
        if instance.get("DBName"):
            value["dbname"] = instance["DBName"]
        self.sm.put_secret_value(SecretId=secret_id, SecretString=json.dumps(value))

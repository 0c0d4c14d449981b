"""The operator's deployment of one environment into moto's server, by the operator's own steps.

`deploy_to_moto` runs, in order, the steps docs/DEPLOY.md lists, as an operator runs them, with
AWS_ENDPOINT_URL pointing at moto:

    scripts/deploy.sh rehearsal artifacts synth -c callcare:certificateArn=<the web certificate>
    scripts/deploy.sh rehearsal storage
    scripts/deploy.sh rehearsal upload             # twice: the second uploads nothing
    scripts/deploy.sh rehearsal stacks
    scripts/deploy.sh rehearsal secrets            # without inputs (refused), then with them

(`image` needs docker; tests/rehearsal/test_deploy_rehearsal.py runs it with a recording docker.)
Only the CDK CLI binary of the storage and stacks steps is replaced (CDK=tests/rehearsal/cdk_standin.py):
it takes the same command line and has moto's CloudFormation create the synthesized stacks, with the
resource types moto skips created from the template (tests/rehearsal/moto_cloudformation.py).

Created here, because an operator has them before the first deploy: the CDK bootstrap's version
parameter (`cdk bootstrap` makes it) and the ACM certificate of the web app's domain. The Drive key
file and folder id are the operator's inputs to the secrets step, given by the caller.

`Deployment.stack(role)` reads a deployed stack back from moto (template, parameters, resources) and
resolves template values from moto's answers, so tests assert what was deployed, not what they chose.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import boto3

from tests.rehearsal.moto_cloudformation import Deployed
from tests.rehearsal.steps import deploy, deploy_env, load_deploy_steps, ok, release_env
from tests.support.helpers import REPO

ENV = "rehearsal"
REGION = "eu-west-1"
# the version `cdk bootstrap` records; the templates refuse versions below 6 (their CheckBootstrapVersion)
BOOTSTRAP_VERSION = "30"


class Deployment:
    """One environment deployed into moto: deploy.sh's environment, each step's output, the stacks."""

    def __init__(self, endpoint: str, tmp: Path, python: str, repo: Path = REPO) -> None:
        self.endpoint = endpoint
        self.tmp = tmp
        self.repo = repo  # the release deployed: this checkout, or an earlier one's
        self.artifacts = tmp / "mwaa"
        self.assembly_dir = tmp / "cdk.out"
        self.env = deploy_env(
            endpoint,
            REGION,
            tmp,
            repo,
            ARTIFACTS=str(self.artifacts),
            ASSEMBLY=str(self.assembly_dir),
            CDK_CONTEXT_FILE=str(tmp / "cdk.context.json"),
            PYTHON=python,
            # the CDK CLI of the storage and stacks steps: its command line, moto's CloudFormation
            CDK=f"{python} {REPO / 'tests' / 'rehearsal' / 'cdk_standin.py'}",
            REHEARSAL_CFN_REPORT=str(tmp / "cloudformation.jsonl"),
        )
        self.session = boto3.Session(
            aws_access_key_id="rehearsal", aws_secret_access_key="rehearsal", region_name=REGION
        )
        self.deployed: dict[str, Deployed] = {}

    def client(self, service: str):
        return self.session.client(service, endpoint_url=self.endpoint)

    def step(self, *args: str):
        return deploy(self.env, ENV, *args, repo=self.repo)

    def stack(self, role: str) -> DeployedStack:
        """A deployed stack by its role (Storage, Airflow, WebApp...), read back from moto."""
        return DeployedStack(self.client("cloudformation"), f"Callcare-{ENV.capitalize()}-{role}", self)


def deploy_to_moto(
    endpoint: str,
    tmp: Path,
    key_file: Path,
    folder_id: str,
    python: str | None = None,
    repo: Path = REPO,
) -> Deployment:
    """Deploy the environment `rehearsal` into moto at endpoint with the operator's steps.

    python: the deploy environment's interpreter (.venv-infra), which deploy.sh runs its Python half
    with; this process needs only boto3. repo: the release deployed, by its own deploy.sh (an earlier
    release's checkout for the upgrade rehearsal).
    """
    tmp.mkdir(parents=True, exist_ok=True)
    r = Deployment(endpoint, tmp, python or sys.executable, repo)
    # what exists before the first deploy: the CDK bootstrap and the web domain's certificate
    r.client("ssm").put_parameter(
        Name="/cdk-bootstrap/hnb659fds/version", Value=BOOTSTRAP_VERSION, Type="String"
    )
    certificate = r.client("acm").request_certificate(
        DomainName="calls.rehearsal.example.com", ValidationMethod="DNS"
    )["CertificateArn"]

    r.certificate = certificate
    ok(r.step("artifacts", "synth", "-c", f"callcare:certificateArn={certificate}"))
    r.assembly = load_deploy_steps().Assembly(r.assembly_dir)
    r.storage = ok(r.step("storage"))
    r.upload = ok(r.step("upload"))
    r.upload_again = ok(r.step("upload"))
    r.stacks = ok(r.step("stacks"))
    _read_cloudformation_report(r)

    r.secrets_without_inputs = r.step("secrets")
    r.key_file = key_file
    r.env.update(GDRIVE_KEY_FILE=str(key_file), GDRIVE_FOLDER_ID=folder_id)
    r.secrets = ok(r.step("secrets"))
    del r.env["GDRIVE_KEY_FILE"], r.env["GDRIVE_FOLDER_ID"]
    return r


def deploy_release_over(r: Deployment, repo: Path = REPO) -> Deployment:
    """Deploy the release in `repo` over the environment `r` holds, as docs/DEPLOY.md's "Upgrading an
    environment" says: the same steps as the first deploy, from that release's checkout. The storage
    stack finds no change; `secrets`, given no inputs, keeps the operator's values. The schema step (the web task's one-off `callcare-web db upgrade`)
    and `pools` need the running services: the caller runs them."""
    r.repo = repo
    r.env.update(PYTHONPATH=release_env(repo)["PYTHONPATH"])
    (r.tmp / "cloudformation.jsonl").unlink(missing_ok=True)
    r.redeploy = [
        ok(r.step("artifacts", "synth", "-c", f"callcare:certificateArn={r.certificate}")),
        ok(r.step("storage")),
        ok(r.step("upload")),
        ok(r.step("stacks")),
        ok(r.step("secrets")),  # no inputs: the operator's values stay
    ]
    r.assembly = load_deploy_steps().Assembly(r.assembly_dir)
    r.deployed = {}
    _read_cloudformation_report(r)
    return r


def point_registry_at_local_database(r: Deployment, options: dict[str, str], dbname: str) -> dict:
    """The registry's connection secret (what the MWAA secrets backend reads for the template's
    `callcare.registry_conn_id`) pointed at a database of the local PostgreSQL, which plays the RDS
    instance; its generated password is kept. Returns the secret's value."""
    sm = r.client("secretsmanager")
    prefix = json.loads(options["secrets.backend_kwargs"])["connections_prefix"]
    secret = f"{prefix}/{options['callcare.registry_conn_id']}"
    attached = json.loads(sm.get_secret_value(SecretId=secret)["SecretString"])
    attached.update(host="127.0.0.1", port=5432, dbname=dbname, username="postgres")
    sm.put_secret_value(SecretId=secret, SecretString=json.dumps(attached))
    return attached


def _read_cloudformation_report(r: Deployment) -> None:
    for line in (r.tmp / "cloudformation.jsonl").read_text().splitlines():
        report = json.loads(line)
        artifact = report.pop("artifact")
        r.deployed[artifact] = Deployed(**report)


class DeployedStack:
    """A stack as moto holds it: its template, parameters, resources; values resolved from those."""

    def __init__(self, cfn, name: str, rehearsal: Deployment) -> None:
        self.name = name
        self.r = rehearsal
        described = cfn.describe_stacks(StackName=name)["Stacks"][0]
        self.status = described["StackStatus"]
        self.parameters = {p["ParameterKey"]: p["ParameterValue"] for p in described.get("Parameters", [])}
        _, _, _, region, account, _ = described["StackId"].split(":", 5)
        self.pseudo = {"AWS::Region": region, "AWS::AccountId": account, "AWS::Partition": "aws"}
        body = cfn.get_template(StackName=name)["TemplateBody"]
        self.template = body if isinstance(body, dict) else json.loads(body)
        self.physical = {
            r["LogicalResourceId"]: r.get("PhysicalResourceId")
            for r in cfn.list_stack_resources(StackName=name)["StackResourceSummaries"]
        }
        self.exports = {e["Name"]: e["Value"] for e in cfn.list_exports()["Exports"]}

    def properties(self, type_: str) -> tuple[str, dict]:
        (logical_id, resource), *more = [
            (lid, r) for lid, r in self.template["Resources"].items() if r["Type"] == type_
        ]
        assert not more, f"{self.name} has more than one {type_}"
        return logical_id, resource["Properties"]

    def condition(self, name: str) -> bool:
        return bool(self.resolve(self.template["Conditions"][name]))

    def resolve(self, node):
        """Ref, Fn::GetAtt (roles), Fn::ImportValue, Fn::Join, Fn::If/Equals/Not, from moto's answers."""
        if isinstance(node, list):
            return [self.resolve(v) for v in node]
        if not isinstance(node, dict):
            return node
        if len(node) != 1 or not next(iter(node)).startswith(("Ref", "Fn::")):
            return {k: self.resolve(v) for k, v in node.items()}
        ((function, argument),) = node.items()
        if function == "Ref":
            if argument == "AWS::NoValue":
                return None
            return self.pseudo.get(argument) or self.parameters.get(argument) or self.physical[argument]
        if function == "Fn::GetAtt" and argument[1] == "Arn":
            role = self.physical[argument[0]]
            return self.r.client("iam").get_role(RoleName=role)["Role"]["Arn"]
        if function == "Fn::ImportValue":
            return self.exports[self.resolve(argument)]
        if function == "Fn::Join":
            return argument[0].join(self.resolve(p) for p in argument[1])
        if function == "Fn::If":
            return self.resolve(argument[1] if self.condition(argument[0]) else argument[2])
        if function == "Fn::Equals":
            return self.resolve(argument[0]) == self.resolve(argument[1])
        if function == "Fn::Not":
            return not self.resolve(argument[0])
        raise NotImplementedError(function)

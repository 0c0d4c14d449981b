"""Builds the callcare CDK app: every stack of one environment, their wiring, tags and cdk-nag."""

from __future__ import annotations

import os

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks

from callcare_infra.config import DeployConfig
from callcare_infra.nag import suppress
from callcare_infra.stacks.airflow import AirflowStack
from callcare_infra.stacks.alerting import AlertingStack
from callcare_infra.stacks.audit import AuditStack
from callcare_infra.stacks.catalog import CatalogStack
from callcare_infra.stacks.database import DatabaseStack
from callcare_infra.stacks.monitoring import MonitoringStack
from callcare_infra.stacks.network import NetworkStack
from callcare_infra.stacks.storage import StorageStack
from callcare_infra.stacks.webapp import WebAppStack


class CallcareStacks:
    """Every stack of one environment, by role (tests and deploy.sh address them by these names)."""

    def __init__(self, app: cdk.App, config: DeployConfig, *, nag: bool = True) -> None:
        self.config = config
        env = cdk.Environment(account=config.account, region=config.region)
        p = config.stack_prefix

        def kw(name: str, description: str) -> dict:
            return {
                "stack_name": f"{p}-{name}",
                "env": env,
                "description": f"callcare {config.env_name}: {description}",
            }

        self.storage = StorageStack(
            app, f"{p}-Storage", config=config, **kw("Storage", "lake, artifacts, keys")
        )
        self.network = NetworkStack(
            app,
            f"{p}-Network",
            config=config,
            data_key=self.storage.data_key,
            **kw("Network", "VPC, security groups"),
        )
        self.catalog = CatalogStack(
            app,
            f"{p}-Catalog",
            config=config,
            data_key=self.storage.data_key,
            **kw("Catalog", "Glue tables, Athena workgroup"),
        )
        self.alerting = AlertingStack(
            app,
            f"{p}-Alerting",
            config=config,
            data_key=self.storage.data_key,
            **kw("Alerting", "topics, secrets"),
        )
        self.database = DatabaseStack(
            app,
            f"{p}-Database",
            config=config,
            vpc=self.network.vpc,
            db_sg=self.network.db_sg,
            data_key=self.storage.data_key,
            **kw("Database", "registry PostgreSQL"),
        )
        self.airflow = AirflowStack(
            app,
            f"{p}-Airflow",
            config=config,
            vpc=self.network.vpc,
            mwaa_sg=self.network.mwaa_sg,
            data_key=self.storage.data_key,
            call_alerts=self.alerting.call_alerts,
            glue_database=self.catalog.database_name,
            athena_workgroup=self.catalog.workgroup_name,
            **kw("Airflow", "MWAA environment"),
        )
        self.webapp = WebAppStack(
            app,
            f"{p}-WebApp",
            config=config,
            vpc=self.network.vpc,
            alb_sg=self.network.alb_sg,
            web_sg=self.network.web_sg,
            data_key=self.storage.data_key,
            repository=self.storage.web_repository,
            access_logs=self.storage.access_logs,
            db_secret=self.database.secret,
            db_endpoint=self.database.instance.db_instance_endpoint_address,
            db_port=self.database.instance.db_instance_endpoint_port,
            call_alerts=self.alerting.call_alerts,
            **kw("WebApp", "Fargate web app, ALB, WAF"),
        )
        self.audit = AuditStack(
            app,
            f"{p}-Audit",
            config=config,
            lake=self.storage.lake,
            access_logs=self.storage.access_logs,
            **kw("Audit", "CloudTrail"),
        )
        self.monitoring = MonitoringStack(
            app,
            f"{p}-Monitoring",
            config=config,
            alarm_topic=self.alerting.alarms,
            mwaa_environment_name=self.airflow.environment_name,
            alb=self.webapp.alb,
            **kw("Monitoring", "alarms, dashboard"),
        )
        # Stacks that address storage by bucket name (no token to infer the order from).
        for consumer in (self.catalog, self.airflow, self.webapp):
            consumer.add_stack_dependency(self.storage)
        self.monitoring.add_stack_dependency(self.airflow)

        for key, value in config.tags.items():
            cdk.Tags.of(app).add(key, value)
        self.justifier = suppress(self)
        if nag:
            cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))

    @property
    def all(self) -> list[cdk.Stack]:
        return [
            self.storage,
            self.network,
            self.catalog,
            self.alerting,
            self.database,
            self.airflow,
            self.webapp,
            self.audit,
            self.monitoring,
        ]


# CDK feature flags this app relies on (also in cdk.json, which the CLI reads).
FEATURE_FLAGS = {
    # server access logs delivered through a bucket policy, not the legacy LogDeliveryWrite ACL
    "@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy": True,
    "@aws-cdk/core:checkSecretUsage": True,
    "@aws-cdk/aws-iam:minimizePolicies": True,
}


def build(context: dict | None = None, *, outdir: str | None = None, nag: bool = True) -> CallcareStacks:
    app = cdk.App(context={**FEATURE_FLAGS, **(context or {})}, outdir=outdir)
    defaults = {}
    if os.environ.get("CDK_DEFAULT_ACCOUNT"):
        defaults["account"] = os.environ["CDK_DEFAULT_ACCOUNT"]
    if os.environ.get("CDK_DEFAULT_REGION"):
        defaults["region"] = os.environ["CDK_DEFAULT_REGION"]
    config = DeployConfig.from_context(app.node.try_get_context, **defaults)
    stacks = CallcareStacks(app, config, nag=nag)
    stacks.app = app
    return stacks

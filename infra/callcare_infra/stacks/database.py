"""Database: the serving PostgreSQL (call registry + event outbox) that the pipeline on MWAA writes and
the web app reads. Its generated credentials secret is named as the Airflow connection
`callcare_registry`, so the MWAA Secrets Manager backend serves it as-is (host, port, username,
password, dbname, engine are keys the amazon provider's backend understands)."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_rds as rds
from constructs import Construct

from callcare_infra.config import DeployConfig
from callcare_infra.stacks.alerting import REGISTRY_CONNECTION_ID
from callcare_infra.stacks.common import log_retention

DB_NAME = "callcare"
DB_USER = "callcare"


class DatabaseStack(Stack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: DeployConfig,
        vpc: ec2.IVpc,
        db_sg: ec2.ISecurityGroup,
        data_key: kms.IKey,
        **kwargs,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        retain = RemovalPolicy.RETAIN if config.is_prod else RemovalPolicy.DESTROY
        self.instance_identifier = f"{config.prefix}-registry"
        # Created here, not by RDS, so it has our key and retention (no log-retention Lambda).
        self.log_group = logs.LogGroup(
            self,
            "PostgresLog",
            log_group_name=f"/aws/rds/instance/{self.instance_identifier}/postgresql",
            encryption_key=data_key,
            retention=log_retention(config.log_retention_days),
            removal_policy=retain,
        )
        self.secret_name = f"{config.secrets_prefix}/connections/{REGISTRY_CONNECTION_ID}"
        self.instance = rds.DatabaseInstance(
            self,
            "Registry",
            instance_identifier=self.instance_identifier,
            engine=rds.DatabaseInstanceEngine.postgres(version=rds.PostgresEngineVersion.VER_16),
            instance_type=ec2.InstanceType(config.db_instance_class),
            vpc=vpc,
            vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED),
            security_groups=[db_sg],
            port=config.db_port,
            database_name=DB_NAME,
            credentials=rds.Credentials.from_generated_secret(
                DB_USER, secret_name=self.secret_name, encryption_key=data_key
            ),
            storage_encrypted=True,
            storage_encryption_key=data_key,
            allocated_storage=config.db_allocated_storage_gib,
            max_allocated_storage=config.db_allocated_storage_gib * 5,
            storage_type=rds.StorageType.GP3,
            multi_az=config.is_prod,
            iam_authentication=True,
            backup_retention=Duration.days(14 if config.is_prod else 7),
            deletion_protection=config.is_prod,
            delete_automated_backups=not config.is_prod,
            removal_policy=RemovalPolicy.SNAPSHOT if config.is_prod else RemovalPolicy.DESTROY,
            cloudwatch_logs_exports=["postgresql"],
            auto_minor_version_upgrade=True,
            enable_performance_insights=True,
            performance_insight_encryption_key=data_key,
            parameters={"rds.force_ssl": "1", "log_min_duration_statement": "1000"},
            publicly_accessible=False,
            copy_tags_to_snapshot=True,
        )
        self.instance.node.add_dependency(self.log_group)
        self.secret = self.instance.secret

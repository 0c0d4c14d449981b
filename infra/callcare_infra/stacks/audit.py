"""Audit: a CloudTrail trail (all regions, log file validation, KMS) with S3 data events on the lake,
so every read and write of recordings, transcripts and summaries (PII) is on record."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_cloudtrail as cloudtrail
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from constructs import Construct

from callcare_infra.config import DeployConfig
from callcare_infra.stacks.common import log_retention


class AuditStack(Stack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: DeployConfig,
        lake: s3.IBucket,
        access_logs: s3.IBucket,
        **kwargs,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        trail_name = f"{config.prefix}-trail"
        trail_arn = f"arn:{self.partition}:cloudtrail:{self.region}:{self.account}:trail/{trail_name}"
        self.key = kms.Key(
            self,
            "TrailKey",
            alias=f"alias/{config.prefix}-trail",
            description=f"{config.prefix}: CloudTrail log files and trail log group",
            enable_key_rotation=True,
            removal_policy=RemovalPolicy.RETAIN,
        )
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudTrailEncrypt",
                principals=[iam.ServicePrincipal("cloudtrail.amazonaws.com")],
                actions=["kms:GenerateDataKey*", "kms:DescribeKey"],
                resources=["*"],
                conditions={
                    "StringEquals": {"aws:SourceArn": trail_arn},
                    "StringLike": {
                        "kms:EncryptionContext:aws:cloudtrail:arn": f"arn:{self.partition}:cloudtrail:*:{self.account}:trail/*"
                    },
                },
            )
        )
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudWatchLogsEncryption",
                principals=[iam.ServicePrincipal(f"logs.{self.region}.amazonaws.com")],
                actions=[
                    "kms:Encrypt*",
                    "kms:Decrypt*",
                    "kms:ReEncrypt*",
                    "kms:GenerateDataKey*",
                    "kms:Describe*",
                ],
                resources=["*"],
                conditions={
                    "ArnLike": {
                        "kms:EncryptionContext:aws:logs:arn": f"arn:{self.partition}:logs:{self.region}:{self.account}:*"
                    }
                },
            )
        )
        self.bucket = s3.Bucket(
            self,
            "TrailBucket",
            encryption=s3.BucketEncryption.KMS,
            encryption_key=self.key,
            bucket_key_enabled=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            versioned=True,
            server_access_logs_bucket=access_logs,
            server_access_logs_prefix="cloudtrail/",
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="archive-then-expire",
                    transitions=[
                        s3.Transition(
                            storage_class=s3.StorageClass.GLACIER, transition_after=Duration.days(90)
                        )
                    ],
                    expiration=Duration.days(max(config.log_retention_days, 365) * 2),
                    noncurrent_version_expiration=Duration.days(config.noncurrent_version_days),
                )
            ],
            removal_policy=RemovalPolicy.RETAIN,
        )
        log_group = logs.LogGroup(
            self,
            "TrailLogs",
            encryption_key=self.key,
            retention=log_retention(config.log_retention_days),
            removal_policy=RemovalPolicy.RETAIN if config.is_prod else RemovalPolicy.DESTROY,
        )
        self.trail = cloudtrail.Trail(
            self,
            "Trail",
            trail_name=trail_name,
            bucket=self.bucket,
            encryption_key=self.key,
            is_multi_region_trail=True,
            include_global_service_events=True,
            enable_file_validation=True,
            send_to_cloud_watch_logs=True,
            cloud_watch_log_group=log_group,
        )
        self.trail.add_s3_event_selector(
            [cloudtrail.S3EventSelector(bucket=lake)],
            read_write_type=cloudtrail.ReadWriteType.ALL,
            include_management_events=True,
        )

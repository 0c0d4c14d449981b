"""Storage: the data key, the lake, the MWAA artifacts bucket, Athena results, access logs, the web image repo."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_ecr as ecr
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from callcare_infra.config import DeployConfig
from callcare_infra.stacks.common import bucket_name

RAW_AUDIO_PREFIX = "raw-audio/"
# dbt's Athena tables (s3_data_dir): objects the pipeline deletes, on rebuilds
WAREHOUSE_PREFIX = "warehouse/"
# the Parquet tables: compaction deletes the per-call files it merged (the only other deletes)
TABLES_PREFIX = "tables/"
# The lake prefixes of DESIGN.md, plus dbt's Athena tables.
LAKE_PREFIXES = (RAW_AUDIO_PREFIX, "transcripts/", "summaries/", TABLES_PREFIX, WAREHOUSE_PREFIX)


class StorageStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, *, config: DeployConfig, **kwargs) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.config = config
        retain = RemovalPolicy.RETAIN if config.is_prod else RemovalPolicy.DESTROY

        # One customer managed key for the environment's data at rest: lake, Athena results, SNS,
        # secrets, logs, the database and MWAA. Rotated yearly by KMS.
        self.data_key = kms.Key(
            self,
            "DataKey",
            alias=f"alias/{config.prefix}-data",
            description=f"{config.prefix}: data at rest (lake, results, topics, secrets, logs, database, MWAA)",
            enable_key_rotation=True,
            removal_policy=RemovalPolicy.RETAIN,
        )
        # CloudWatch Logs (log groups of flow logs, ECS, RDS, MWAA) encrypt with the key...
        self.data_key.add_to_resource_policy(
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
        # ...and CloudWatch alarms publish to the KMS-encrypted alarm topic.
        self.data_key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudWatchAlarmsToEncryptedTopics",
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                resources=["*"],
                conditions={"StringEquals": {"aws:SourceAccount": self.account}},
            )
        )

        self.access_logs = s3.Bucket(
            self,
            "AccessLogs",
            bucket_name=bucket_name(config, "access-logs", self),
            # S3 server access logs can only be delivered to SSE-S3 buckets.
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            versioned=True,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="expire-access-logs",
                    expiration=Duration.days(config.log_retention_days),
                    noncurrent_version_expiration=Duration.days(config.noncurrent_version_days),
                )
            ],
            removal_policy=retain,
        )

        raw_rule_kwargs: dict = {}
        if config.raw_audio_retention_days:
            raw_rule_kwargs["expiration"] = Duration.days(config.raw_audio_retention_days)
        self.lake = s3.Bucket(
            self,
            "Lake",
            bucket_name=bucket_name(config, "lake", self),
            encryption=s3.BucketEncryption.KMS,
            encryption_key=self.data_key,
            bucket_key_enabled=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            versioned=True,
            server_access_logs_bucket=self.access_logs,
            server_access_logs_prefix="lake/",
            lifecycle_rules=[
                # Intelligent-Tiering, not Glacier: a recording must stay playable (presigned URL) and
                # reprocessable at any age, and a Glacier object needs a restore first. S3 moves an
                # object nobody read for 30 days to Infrequent Access and after 90 to Archive Instant
                # Access, both read in milliseconds. The bucket has no IntelligentTieringConfiguration,
                # so the opt-in archive tiers (which do need a restore) never apply.
                s3.LifecycleRule(
                    id="raw-audio-intelligent-tiering",
                    prefix=RAW_AUDIO_PREFIX,
                    transitions=[
                        s3.Transition(
                            storage_class=s3.StorageClass.INTELLIGENT_TIERING,
                            transition_after=Duration.days(0),
                        )
                    ],
                    **raw_rule_kwargs,
                ),
                s3.LifecycleRule(
                    id="old-versions",
                    noncurrent_version_expiration=Duration.days(config.noncurrent_version_days),
                    abort_incomplete_multipart_upload_after=Duration.days(7),
                ),
            ],
            removal_policy=retain,
        )

        # MWAA's source bucket: dags/ (with include/ and dbt/), plugins.zip, requirements.txt,
        # startup.sh. MWAA requires versioning and blocked public access.
        self.artifacts = s3.Bucket(
            self,
            "AirflowArtifacts",
            bucket_name=bucket_name(config, "airflow", self),
            encryption=s3.BucketEncryption.KMS,
            encryption_key=self.data_key,
            bucket_key_enabled=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            versioned=True,
            server_access_logs_bucket=self.access_logs,
            server_access_logs_prefix="airflow-artifacts/",
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="old-versions",
                    noncurrent_version_expiration=Duration.days(config.noncurrent_version_days),
                )
            ],
            removal_policy=retain,
        )

        self.athena_results = s3.Bucket(
            self,
            "AthenaResults",
            bucket_name=bucket_name(config, "athena-results", self),
            encryption=s3.BucketEncryption.KMS,
            encryption_key=self.data_key,
            bucket_key_enabled=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            versioned=True,
            server_access_logs_bucket=self.access_logs,
            server_access_logs_prefix="athena-results/",
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="expire-results",
                    expiration=Duration.days(config.athena_results_days),
                    noncurrent_version_expiration=Duration.days(1),
                )
            ],
            removal_policy=retain,
        )

        # The web app's image: deploy.sh builds webapp/ and pushes it here before the web stack.
        self.web_repository = ecr.Repository(
            self,
            "WebImages",
            repository_name=f"{config.prefix}-webapp",
            image_scan_on_push=True,
            image_tag_mutability=ecr.TagMutability.IMMUTABLE,
            encryption=ecr.RepositoryEncryption.KMS,
            encryption_key=self.data_key,
            lifecycle_rules=[ecr.LifecycleRule(description="keep the last 30 images", max_image_count=30)],
            removal_policy=retain,
            empty_on_delete=False,
        )

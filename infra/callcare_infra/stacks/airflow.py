"""Airflow: the MWAA environment on the private subnets, its least-privilege execution role, and the
Airflow configuration (Secrets Manager backend, callcare settings).

The artifacts come from scripts/package_mwaa.py and are uploaded by scripts/deploy.sh before this stack
deploys; their S3 object versions are stack parameters, so a new plugins.zip, requirements.txt or
startup.sh is picked up by a stack update (MWAA reads those three by version, the dags/ prefix live).
"""

from __future__ import annotations

import json

from aws_cdk import Aws, CfnCondition, CfnParameter, Fn, Stack, Token
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_mwaa as mwaa
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from constructs import Construct

from callcare_infra.config import DeployConfig
from callcare_infra.stacks.alerting import REGISTRY_CONNECTION_ID
from callcare_infra.stacks.common import import_bucket
from callcare_infra.stacks.storage import LAKE_PREFIXES, TABLES_PREFIX, WAREHOUSE_PREFIX

DAGS_PATH = "dags"
PLUGINS_KEY = "plugins.zip"
REQUIREMENTS_KEY = "requirements.txt"
STARTUP_KEY = "startup.sh"
# Prefix of Transcribe job names (callcare.hooks.transcribe.JOB_NAME_PREFIX).
TRANSCRIBE_JOB_PREFIX = "callcare-"
GEO_PREFIXES = ("us.", "eu.", "apac.", "global.", "us-gov.", "ca.", "jp.", "au.")


def bedrock_resources(model_ids: tuple[str, ...], partition: str, region: str, account: str) -> list[str]:
    """ARNs a model id needs: a foundation model, or a cross-region inference profile and its models."""
    arns: list[str] = []
    for model_id in model_ids:
        geo = next((p for p in GEO_PREFIXES if model_id.startswith(p)), None)
        if geo:
            arns.append(f"arn:{partition}:bedrock:{region}:{account}:inference-profile/{model_id}")
            # the profile routes to the same model in other regions of its geography
            arns.append(f"arn:{partition}:bedrock:*::foundation-model/{model_id[len(geo) :]}")
        else:
            arns.append(f"arn:{partition}:bedrock:{region}::foundation-model/{model_id}")
    return arns


class AirflowStack(Stack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: DeployConfig,
        vpc: ec2.IVpc,
        mwaa_sg: ec2.ISecurityGroup,
        data_key: kms.IKey,
        call_alerts: sns.ITopic,
        glue_database: str,
        athena_workgroup: str,
        **kwargs,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        lake = import_bucket(self, config, "lake")
        artifacts = import_bucket(self, config, "airflow")
        athena_results = import_bucket(self, config, "athena-results")
        self.environment_name = config.mwaa_environment_name
        env_arn = (
            f"arn:{Aws.PARTITION}:airflow:{Aws.REGION}:{Aws.ACCOUNT_ID}:environment/{self.environment_name}"
        )
        self.role = iam.Role(
            self,
            "ExecutionRole",
            description=f"MWAA execution role of {self.environment_name}",
            assumed_by=iam.CompositePrincipal(
                iam.ServicePrincipal("airflow.amazonaws.com"),
                iam.ServicePrincipal("airflow-env.amazonaws.com"),
            ),
        )
        statements = self._mwaa_statements(config, env_arn, artifacts, data_key)
        statements += self._pipeline_statements(
            config, lake, athena_results, data_key, call_alerts, glue_database, athena_workgroup
        )
        self.policy = iam.ManagedPolicy(
            self, "ExecutionPolicy", description="callcare on MWAA: least privilege", statements=statements
        )
        self.role.add_managed_policy(self.policy)

        versions = {
            name: CfnParameter(
                self,
                f"{name}ObjectVersion",
                type="String",
                default="",
                description=f"S3 object version of {key} in the artifacts bucket (set by scripts/deploy.sh)",
            )
            for name, key in (
                ("Plugins", PLUGINS_KEY),
                ("Requirements", REQUIREMENTS_KEY),
                ("Startup", STARTUP_KEY),
            )
        }

        def if_set(name: str, value: str):
            param = versions[name]
            condition = CfnCondition(
                self, f"Has{name}Version", expression=Fn.condition_not(Fn.condition_equals(param, ""))
            )
            path = Fn.condition_if(condition.logical_id, value, Aws.NO_VALUE)
            version = Fn.condition_if(condition.logical_id, param.value_as_string, Aws.NO_VALUE)
            return Token.as_string(path), Token.as_string(version)

        plugins_path, plugins_version = if_set("Plugins", PLUGINS_KEY)
        requirements_path, requirements_version = if_set("Requirements", REQUIREMENTS_KEY)
        startup_path, startup_version = if_set("Startup", STARTUP_KEY)

        logging = mwaa.CfnEnvironment.ModuleLoggingConfigurationProperty
        self.mwaa_environment = mwaa.CfnEnvironment(
            self,
            "Environment",
            name=self.environment_name,
            airflow_version=config.airflow_version,
            environment_class=config.mwaa_environment_class,
            min_workers=config.mwaa_min_workers,
            max_workers=config.mwaa_max_workers,
            schedulers=config.mwaa_schedulers,
            execution_role_arn=self.role.role_arn,
            kms_key=data_key.key_arn,
            source_bucket_arn=artifacts.bucket_arn,
            dag_s3_path=DAGS_PATH,
            plugins_s3_path=plugins_path,
            plugins_s3_object_version=plugins_version,
            requirements_s3_path=requirements_path,
            requirements_s3_object_version=requirements_version,
            startup_script_s3_path=startup_path,
            startup_script_s3_object_version=startup_version,
            webserver_access_mode=config.mwaa_webserver_access,
            endpoint_management="SERVICE",
            weekly_maintenance_window_start="SUN:03:00",
            network_configuration=mwaa.CfnEnvironment.NetworkConfigurationProperty(
                security_group_ids=[mwaa_sg.security_group_id],
                subnet_ids=vpc.select_subnets(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS).subnet_ids,
            ),
            logging_configuration=mwaa.CfnEnvironment.LoggingConfigurationProperty(
                dag_processing_logs=logging(enabled=True, log_level="WARNING"),
                scheduler_logs=logging(enabled=True, log_level="WARNING"),
                task_logs=logging(enabled=True, log_level="INFO"),
                webserver_logs=logging(enabled=True, log_level="WARNING"),
                worker_logs=logging(enabled=True, log_level="WARNING"),
            ),
            airflow_configuration_options=airflow_configuration(
                config,
                lake_bucket=lake.bucket_name,
                results_bucket=athena_results.bucket_name,
                topic_arn=call_alerts.topic_arn,
                key_arn=data_key.key_arn,
                region=Aws.REGION,
                workgroup=athena_workgroup,
            ),
            tags=config.tags,
        )
        self.mwaa_environment.node.add_dependency(self.policy)

    # -- MWAA itself (docs: "Amazon MWAA execution role", customer managed key variant) -------------
    def _mwaa_statements(
        self, config: DeployConfig, env_arn: str, artifacts: s3.IBucket, key: kms.IKey
    ) -> list[iam.PolicyStatement]:
        region, account, partition = Aws.REGION, Aws.ACCOUNT_ID, Aws.PARTITION
        log_groups = f"arn:{partition}:logs:{region}:{account}:log-group:airflow-{self.environment_name}-*"
        return [
            iam.PolicyStatement(
                sid="PublishMetrics", actions=["airflow:PublishMetrics"], resources=[env_arn]
            ),
            iam.PolicyStatement(
                sid="ReadArtifacts",
                actions=["s3:GetObject*", "s3:GetBucket*", "s3:List*"],
                resources=[artifacts.bucket_arn, artifacts.arn_for_objects("*")],
            ),
            iam.PolicyStatement(
                sid="AirflowLogs",
                actions=[
                    "logs:CreateLogStream",
                    "logs:CreateLogGroup",
                    "logs:PutLogEvents",
                    "logs:GetLogEvents",
                    "logs:GetLogRecord",
                    "logs:GetLogGroupFields",
                    "logs:GetQueryResults",
                ],
                resources=[log_groups],
            ),
            # These actions have no resource-level permissions (IAM service authorization reference).
            iam.PolicyStatement(
                sid="NoResourceLevelActions",
                actions=["logs:DescribeLogGroups", "s3:GetAccountPublicAccessBlock"],
                resources=["*"],
            ),
            iam.PolicyStatement(
                sid="Metrics",
                actions=["cloudwatch:PutMetricData"],
                resources=["*"],
                conditions={
                    "StringEquals": {"cloudwatch:namespace": ["AmazonMWAA", config.metrics_namespace]}
                },
            ),
            # The Celery queue lives in an MWAA service account, hence the account wildcard.
            iam.PolicyStatement(
                sid="CeleryQueue",
                actions=[
                    "sqs:ChangeMessageVisibility",
                    "sqs:DeleteMessage",
                    "sqs:GetQueueAttributes",
                    "sqs:GetQueueUrl",
                    "sqs:ReceiveMessage",
                    "sqs:SendMessage",
                ],
                resources=[f"arn:{partition}:sqs:{region}:*:airflow-celery-*"],
            ),
            iam.PolicyStatement(
                sid="KeyForMwaaQueueAndArtifacts",
                actions=["kms:Decrypt", "kms:DescribeKey", "kms:GenerateDataKey*", "kms:Encrypt"],
                resources=[key.key_arn],
                conditions={
                    "StringLike": {
                        "kms:ViaService": [f"sqs.{region}.amazonaws.com", f"s3.{region}.amazonaws.com"]
                    }
                },
            ),
        ]

    # -- what the callcare pipeline does from its tasks ----------------------------------------------
    def _pipeline_statements(
        self,
        config: DeployConfig,
        lake: s3.IBucket,
        results: s3.IBucket,
        key: kms.IKey,
        call_alerts: sns.ITopic,
        glue_database: str,
        workgroup: str,
    ) -> list[iam.PolicyStatement]:
        region, account, partition = Aws.REGION, Aws.ACCOUNT_ID, Aws.PARTITION
        catalog = f"arn:{partition}:glue:{region}:{account}:catalog"
        databases = [f"{glue_database}", f"{glue_database}_*"]
        # only what Airflow's secrets backend looks up: the web app's signing key and admin password live
        # under the same prefix and are none of MWAA's business
        secrets = [
            f"arn:{partition}:secretsmanager:{region}:{account}:secret:{config.secrets_prefix}/{kind}/*"
            for kind in ("connections", "variables", "config")
        ]
        return [
            iam.PolicyStatement(
                sid="LakeObjects",
                actions=["s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload"],
                resources=[lake.arn_for_objects(f"{prefix}*") for prefix in LAKE_PREFIXES],
            ),
            # dbt-athena deletes a table's files before it rebuilds it (and the partitions an
            # incremental model overwrites): under s3_data_dir, warehouse/, only. Nothing the
            # pipeline writes elsewhere is ever deleted, so a bug cannot erase recordings or summaries.
            # Athena's results need no delete: the results bucket's lifecycle expires them.
            iam.PolicyStatement(
                sid="WarehouseRebuilds",
                actions=["s3:DeleteObject"],
                resources=[lake.arn_for_objects(f"{WAREHOUSE_PREFIX}*")],
            ),
            # callcare_compact deletes the per-call Parquet files it merged into a day's compacted
            # file (callcare.steps.compact), only under tables/, each only while its ETag is the one
            # it read (If-Match). The bucket is versioned: a delete leaves a noncurrent version.
            iam.PolicyStatement(
                sid="LakeCompaction",
                actions=["s3:DeleteObject"],
                resources=[lake.arn_for_objects(f"{TABLES_PREFIX}*")],
            ),
            iam.PolicyStatement(
                sid="LakeListing",
                actions=["s3:ListBucket"],
                resources=[lake.bucket_arn],
                conditions={"StringLike": {"s3:prefix": ["", *[f"{p}*" for p in LAKE_PREFIXES]]}},
            ),
            iam.PolicyStatement(
                sid="LakeBucketLocation",
                actions=["s3:GetBucketLocation"],
                resources=[lake.bucket_arn, results.bucket_arn],
            ),
            iam.PolicyStatement(
                sid="DataKey",
                actions=["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:DescribeKey"],
                resources=[key.key_arn],
            ),
            iam.PolicyStatement(
                sid="TranscribeJobs",
                # no DeleteTranscriptionJob: a FAILED job stays its attempt's answer, a reprocess
                # starts a job of another name (callcare.hooks.transcribe)
                actions=["transcribe:StartTranscriptionJob", "transcribe:GetTranscriptionJob"],
                resources=[
                    f"arn:{partition}:transcribe:{region}:{account}:transcription-job/{TRANSCRIBE_JOB_PREFIX}*"
                ],
            ),
            iam.PolicyStatement(
                sid="BedrockInvoke",
                actions=["bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"],
                resources=bedrock_resources(config.bedrock_model_ids, partition, region, account),
            ),
            iam.PolicyStatement(sid="CallAlerts", actions=["sns:Publish"], resources=[call_alerts.topic_arn]),
            iam.PolicyStatement(
                sid="Secrets",
                actions=["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"],
                resources=secrets,
            ),
            iam.PolicyStatement(
                sid="AthenaWorkgroup",
                actions=[
                    "athena:StartQueryExecution",
                    "athena:GetQueryExecution",
                    "athena:GetQueryResults",
                    "athena:StopQueryExecution",
                    "athena:GetWorkGroup",
                    "athena:BatchGetQueryExecution",
                ],
                resources=[f"arn:{partition}:athena:{region}:{account}:workgroup/{workgroup}"],
            ),
            iam.PolicyStatement(
                sid="AthenaResults",
                actions=["s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload", "s3:ListBucket"],
                resources=[results.bucket_arn, results.arn_for_objects("results/*")],
            ),
            iam.PolicyStatement(
                sid="GlueCatalog",
                actions=[
                    "glue:GetDatabase",
                    "glue:GetDatabases",
                    "glue:GetTable",
                    "glue:GetTables",
                    "glue:GetPartition",
                    "glue:GetPartitions",
                    "glue:BatchGetPartition",
                    "glue:CreateTable",
                    "glue:UpdateTable",
                    "glue:DeleteTable",
                    "glue:BatchCreatePartition",
                    "glue:BatchDeletePartition",
                    "glue:CreatePartition",
                    "glue:UpdatePartition",
                ],
                resources=[
                    catalog,
                    *[f"arn:{partition}:glue:{region}:{account}:database/{d}" for d in databases],
                    *[f"arn:{partition}:glue:{region}:{account}:table/{d}/*" for d in databases],
                ],
            ),
        ]


def airflow_configuration(
    config: DeployConfig,
    *,
    lake_bucket: str,
    results_bucket: str,
    topic_arn: str,
    key_arn: str,
    region: str,
    workgroup: str,
) -> dict[str, str]:
    """Airflow configuration options of the environment.

    MWAA exports each option as AIRFLOW__SECTION__KEY; startup.sh turns the `callcare.*` ones into the
    CALLCARE_* variables callcare's settings read (mwaa/startup.sh).
    """
    return {
        "secrets.backend": "airflow.providers.amazon.aws.secrets.secrets_manager.SecretsManagerBackend",
        "secrets.backend_kwargs": json.dumps(
            {
                "connections_prefix": f"{config.secrets_prefix}/connections",
                "variables_prefix": f"{config.secrets_prefix}/variables",
                "config_prefix": f"{config.secrets_prefix}/config",
                # the RDS-generated registry secret names its database `dbname`
                "extra_conn_words": {"schema": ["dbname"]},
            }
        ),
        "core.load_examples": "False",
        # the warehouse DAG renders the dbt project with `dbt ls` (cosmos) when its cache is cold:
        # more than the default 30 s on a small environment
        "core.dagbag_import_timeout": "150",
        "core.dag_file_processor_timeout": "300",
        "core.default_task_retries": "2",
        # A worker lost mid-task (scale-in, a crashed container) leaves its task running in the metadata
        # database until this many seconds pass without a heartbeat; then the scheduler fails it into
        # its retry on another worker. Task SDK supervisors heartbeat every few seconds
        # ([workers] min_heartbeat_interval, 5 s), so 120 s rides out a long GC pause or a database
        # failover on a small environment, and a lost worker delays its calls 2 minutes, not Airflow's
        # default 5. The deployment rehearsal kills a worker mid-run with this value.
        "scheduler.task_instance_heartbeat_timeout": "120",
        "callcare.profile": "aws",
        "callcare.lake_uri": f"s3://{lake_bucket}",
        "callcare.aws_region": region,
        "callcare.summary_backend": "bedrock",
        "callcare.bedrock_model_id": config.bedrock_model_ids[0],
        "callcare.sns_topic_arn": topic_arn,
        "callcare.transcribe_output_kms_key_id": key_arn,
        "callcare.metrics_cloudwatch_namespace": config.metrics_namespace,
        "callcare.metrics_environment": config.env_name,
        "callcare.registry_conn_id": REGISTRY_CONNECTION_ID,
        "callcare.dbt_target": "athena",
        "callcare.glue_database": config.glue_database,
        "callcare.athena_database": config.athena_database,
        "callcare.athena_work_group": workgroup,
        "callcare.athena_s3_staging_dir": f"s3://{results_bucket}/results/",
        "callcare.athena_s3_data_dir": f"s3://{lake_bucket}/warehouse/",
    }

"""Web app hosting: the Flask-AppBuilder container on ECS Fargate in the private subnets, behind an
internet-facing ALB protected by WAF (rate limit per client IP + AWS managed rule groups), reading the
registry database. The image comes from the ECR repository of the storage stack; its tag is a stack
parameter that scripts/deploy.sh sets after pushing.

The task's variables are the ones `callcare_web.config` reads (tests/infra checks each name against
`environment_names()`), and the ALB's health check is its `HEALTH_PATH`: both are read from the web
app's own module, so the task definition and the code cannot drift apart.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from types import ModuleType

from aws_cdk import CfnParameter, Duration, RemovalPolicy, Stack
from aws_cdk import aws_certificatemanager as acm
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecr as ecr
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_sns as sns
from aws_cdk import aws_wafv2 as wafv2
from constructs import Construct

from callcare_infra.config import DeployConfig
from callcare_infra.stacks.common import import_bucket, log_retention

REPO = Path(__file__).resolve().parents[3]
# Every task serves behind one load balancer, the only hop whose X-Forwarded-For the app trusts.
PROXY_HOPS = 1


def web_config() -> ModuleType:
    """The web app's settings module, `webapp/callcare_web/config.py` of this checkout. It imports only
    the standard library and `callcare.config` (plugins/), so synth needs none of the web app's
    dependencies."""
    for folder in ("plugins", "webapp"):
        path = str(REPO / folder)
        if path not in sys.path:
            sys.path.insert(0, path)
    return importlib.import_module("callcare_web.config")


MANAGED_RULE_GROUPS = (
    "AWSManagedRulesCommonRuleSet",
    "AWSManagedRulesKnownBadInputsRuleSet",
    "AWSManagedRulesAmazonIpReputationList",
)


class WebAppStack(Stack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: DeployConfig,
        vpc: ec2.IVpc,
        alb_sg: ec2.ISecurityGroup,
        web_sg: ec2.ISecurityGroup,
        data_key: kms.IKey,
        repository: ecr.IRepository,
        access_logs: s3.IBucket,
        db_secret: secretsmanager.ISecret,
        db_endpoint: str,
        db_port: str,
        call_alerts: sns.ITopic,
        **kwargs,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        # Imported by name: a grant on the storage stack's own construct would land in its resource
        # policy and make the storage stack depend on this one.
        repository = ecr.Repository.from_repository_attributes(
            self,
            "Images",
            repository_name=repository.repository_name,
            repository_arn=repository.repository_arn,
        )
        lake = import_bucket(self, config, "lake")
        # Likewise the key and the secret: grants on imports go to our roles' policies only.
        data_key = kms.Key.from_key_arn(self, "DataKey", data_key.key_arn)
        db_secret = secretsmanager.Secret.from_secret_attributes(
            self, "DbSecret", secret_complete_arn=db_secret.secret_arn, encryption_key=data_key
        )
        retain = RemovalPolicy.RETAIN if config.is_prod else RemovalPolicy.DESTROY
        web = web_config()
        # One signing key for every task (sessions, CSRF tokens and JWTs signed by one task verify on
        # the others, and survive restarts); the app refuses to start on aws without it.
        self.secret_key = secretsmanager.Secret(
            self,
            "WebSecretKey",
            secret_name=f"{config.secrets_prefix}/web/secret_key",
            description="the web app's Flask signing key (CALLCARE_WEB_SECRET_KEY), shared by its tasks",
            encryption_key=data_key,
            generate_secret_string=secretsmanager.SecretStringGenerator(
                password_length=64, exclude_punctuation=True
            ),
            removal_policy=retain,
        )
        # The first admin's password: `callcare-web init` creates the admin from it (docs/DEPLOY.md);
        # the app never generates one on aws, so none reaches the container log.
        self.admin_password = secretsmanager.Secret(
            self,
            "WebAdminPassword",
            secret_name=f"{config.secrets_prefix}/web/admin_password",
            description="initial password of the web app's first admin (CALLCARE_WEB_ADMIN_PASSWORD)",
            encryption_key=data_key,
            generate_secret_string=secretsmanager.SecretStringGenerator(
                password_length=24, require_each_included_type=True, exclude_characters="\"'`\\ "
            ),
            removal_policy=retain,
        )
        image_tag = CfnParameter(
            self,
            "WebImageTag",
            type="String",
            default="latest",
            description="tag of the web app image in the ECR repository (set by scripts/deploy.sh)",
        )

        self.cluster = ecs.Cluster(
            self,
            "Cluster",
            vpc=vpc,
            cluster_name=f"{config.prefix}-web",
            container_insights_v2=ecs.ContainerInsights.ENHANCED,
        )
        log_group = logs.LogGroup(
            self,
            "WebLogs",
            encryption_key=data_key,
            retention=log_retention(config.log_retention_days),
            removal_policy=retain,
        )
        task = ecs.FargateTaskDefinition(
            self,
            "Task",
            cpu=config.web_cpu,
            memory_limit_mib=config.web_memory_mib,
            runtime_platform=ecs.RuntimePlatform(
                cpu_architecture=ecs.CpuArchitecture.X86_64,
                operating_system_family=ecs.OperatingSystemFamily.LINUX,
            ),
        )
        task.add_container(
            "web",
            image=ecs.ContainerImage.from_ecr_repository(repository, image_tag.value_as_string),
            port_mappings=[ecs.PortMapping(container_port=config.web_container_port)],
            logging=ecs.LogDriver.aws_logs(stream_prefix="web", log_group=log_group),
            readonly_root_filesystem=False,
            environment={
                "CALLCARE_PROFILE": "aws",
                "CALLCARE_LAKE_URI": f"s3://{lake.bucket_name}",
                "CALLCARE_AWS_REGION": self.region,
                "CALLCARE_SNS_TOPIC_ARN": call_alerts.topic_arn,
                # the registry: the app builds its URL from these and the secrets below
                web.DB_HOST: db_endpoint,
                web.DB_PORT: db_port,
                web.DB_SSLMODE: "require",
                "CALLCARE_WEB_PORT": str(config.web_container_port),
                # client addresses (audit log, login rate limit) from the ALB's X-Forwarded-For
                "CALLCARE_WEB_PROXY_HOPS": str(PROXY_HOPS),
                # gunicorn believes X-Forwarded-Proto only from inside the VPC (the ALB's nodes)
                "CALLCARE_WEB_FORWARDED_ALLOW_IPS": vpc.vpc_cidr_block,
                # the SNS endpoint accepts the call-alert topic only (an empty list turns it off)
                "CALLCARE_WEB_SNS_TOPIC_ARNS": call_alerts.topic_arn,
            },
            # Credentials come from Secrets Manager at task start, never from the task definition.
            secrets={
                web.DB_USER: ecs.Secret.from_secrets_manager(db_secret, "username"),
                web.DB_PASSWORD: ecs.Secret.from_secrets_manager(db_secret, "password"),
                web.DB_NAME: ecs.Secret.from_secrets_manager(db_secret, "dbname"),
                web.SECRET_KEY: ecs.Secret.from_secrets_manager(self.secret_key),
                "CALLCARE_WEB_ADMIN_PASSWORD": ecs.Secret.from_secrets_manager(self.admin_password),
            },
        )
        # The app reads summaries and transcripts and presigns audio URLs from the lake: read only.
        task.task_role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["s3:GetObject"],
                resources=[lake.arn_for_objects(p) for p in ("raw-audio/*", "transcripts/*", "summaries/*")],
            )
        )
        task.task_role.add_to_principal_policy(
            iam.PolicyStatement(actions=["kms:Decrypt", "kms:DescribeKey"], resources=[data_key.key_arn])
        )

        self.service = ecs.FargateService(
            self,
            "Service",
            cluster=self.cluster,
            task_definition=task,
            desired_count=config.web_desired_count,
            security_groups=[web_sg],
            vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS),
            assign_public_ip=False,
            circuit_breaker=ecs.DeploymentCircuitBreaker(rollback=True),
            min_healthy_percent=100,
            enable_execute_command=False,
        )

        self.alb = elbv2.ApplicationLoadBalancer(
            self,
            "Alb",
            vpc=vpc,
            internet_facing=True,
            security_group=alb_sg,
            vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PUBLIC),
            drop_invalid_header_fields=True,
        )
        self.alb.log_access_logs(access_logs, prefix="alb")
        target = elbv2.ApplicationTargetGroup(
            self,
            "Targets",
            vpc=vpc,
            port=config.web_container_port,
            protocol=elbv2.ApplicationProtocol.HTTP,
            targets=[self.service],
            health_check=elbv2.HealthCheck(path=web.HEALTH_PATH, healthy_http_codes="200"),
            deregistration_delay=Duration.seconds(30),
        )
        if config.certificate_arn:
            certificate = acm.Certificate.from_certificate_arn(self, "Certificate", config.certificate_arn)
            self.alb.add_listener(
                "Https",
                port=443,
                protocol=elbv2.ApplicationProtocol.HTTPS,
                certificates=[elbv2.ListenerCertificate.from_certificate_manager(certificate)],
                ssl_policy=elbv2.SslPolicy.RECOMMENDED_TLS,
                default_target_groups=[target],
                open=False,
            )
            self.alb.add_redirect(source_port=80, target_port=443)
        else:
            self.alb.add_listener("Http", port=80, default_target_groups=[target], open=False)

        self.web_acl = wafv2.CfnWebACL(
            self,
            "WebAcl",
            name=f"{config.prefix}-web",
            scope="REGIONAL",
            default_action=wafv2.CfnWebACL.DefaultActionProperty(allow={}),
            visibility_config=_visibility(f"{config.prefix}-web"),
            rules=[
                wafv2.CfnWebACL.RuleProperty(
                    name="rate-limit-per-ip",
                    priority=0,
                    action=wafv2.CfnWebACL.RuleActionProperty(block={}),
                    statement=wafv2.CfnWebACL.StatementProperty(
                        rate_based_statement=wafv2.CfnWebACL.RateBasedStatementProperty(
                            limit=config.waf_rate_limit, aggregate_key_type="IP", evaluation_window_sec=300
                        )
                    ),
                    visibility_config=_visibility("rate-limit-per-ip"),
                ),
                *[
                    wafv2.CfnWebACL.RuleProperty(
                        name=group,
                        priority=i + 1,
                        override_action=wafv2.CfnWebACL.OverrideActionProperty(none={}),
                        statement=wafv2.CfnWebACL.StatementProperty(
                            managed_rule_group_statement=wafv2.CfnWebACL.ManagedRuleGroupStatementProperty(
                                vendor_name="AWS", name=group
                            )
                        ),
                        visibility_config=_visibility(group),
                    )
                    for i, group in enumerate(MANAGED_RULE_GROUPS)
                ],
            ],
        )
        wafv2.CfnWebACLAssociation(
            self, "WebAclAlb", resource_arn=self.alb.load_balancer_arn, web_acl_arn=self.web_acl.attr_arn
        )


def _visibility(name: str) -> wafv2.CfnWebACL.VisibilityConfigProperty:
    return wafv2.CfnWebACL.VisibilityConfigProperty(
        cloud_watch_metrics_enabled=True, metric_name=name, sampled_requests_enabled=True
    )

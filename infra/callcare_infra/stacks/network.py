"""Network: a VPC over two AZs (public: ALB and NAT; private: MWAA and Fargate; isolated: RDS), flow
logs, and every security group with the rules between them (kept in one stack so no rule crosses
stacks and creates a dependency cycle)."""

from __future__ import annotations

from aws_cdk import RemovalPolicy, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from constructs import Construct

from callcare_infra.config import DeployConfig
from callcare_infra.stacks.common import log_retention


class NetworkStack(Stack):
    def __init__(
        self, scope: Construct, construct_id: str, *, config: DeployConfig, data_key: kms.IKey, **kwargs
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        flow_log_group = logs.LogGroup(
            self,
            "FlowLogs",
            encryption_key=data_key,
            retention=log_retention(config.log_retention_days),
            removal_policy=RemovalPolicy.RETAIN if config.is_prod else RemovalPolicy.DESTROY,
        )
        self.vpc = ec2.Vpc(
            self,
            "Vpc",
            ip_addresses=ec2.IpAddresses.cidr("10.40.0.0/16"),
            max_azs=2,
            nat_gateways=max(1, min(2, config.nat_gateways)),
            subnet_configuration=[
                ec2.SubnetConfiguration(name="public", subnet_type=ec2.SubnetType.PUBLIC, cidr_mask=24),
                ec2.SubnetConfiguration(
                    name="private", subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS, cidr_mask=20
                ),
                ec2.SubnetConfiguration(
                    name="data", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED, cidr_mask=24
                ),
            ],
            gateway_endpoints={
                "S3": ec2.GatewayVpcEndpointOptions(service=ec2.GatewayVpcEndpointAwsService.S3)
            },
            flow_logs={
                "all": ec2.FlowLogOptions(
                    destination=ec2.FlowLogDestination.to_cloud_watch_logs(flow_log_group),
                    traffic_type=ec2.FlowLogTrafficType.ALL,
                )
            },
        )

        # MWAA: its components talk to each other on any port inside the group (a MWAA requirement);
        # outbound HTTPS to AWS APIs and PyPI (requirements, the dbt virtualenv) through the NAT.
        self.mwaa_sg = ec2.SecurityGroup(
            self, "MwaaSg", vpc=self.vpc, description="MWAA environment", allow_all_outbound=True
        )
        self.mwaa_sg.add_ingress_rule(self.mwaa_sg, ec2.Port.all_traffic(), "MWAA components to each other")

        self.alb_sg = ec2.SecurityGroup(
            self, "AlbSg", vpc=self.vpc, description="web app load balancer", allow_all_outbound=False
        )
        listener_port = 443 if config.certificate_arn else 80
        self.alb_sg.add_ingress_rule(
            ec2.Peer.any_ipv4(), ec2.Port.tcp(listener_port), "caseworkers' browsers (behind WAF)"
        )
        if config.certificate_arn:
            self.alb_sg.add_ingress_rule(ec2.Peer.any_ipv4(), ec2.Port.tcp(80), "redirect to HTTPS")

        self.web_sg = ec2.SecurityGroup(
            self, "WebSg", vpc=self.vpc, description="web app tasks", allow_all_outbound=True
        )
        self.web_sg.add_ingress_rule(
            self.alb_sg, ec2.Port.tcp(config.web_container_port), "load balancer to the web app"
        )
        self.alb_sg.add_egress_rule(
            self.web_sg, ec2.Port.tcp(config.web_container_port), "load balancer to the web app"
        )

        self.db_sg = ec2.SecurityGroup(
            self, "DbSg", vpc=self.vpc, description="registry database", allow_all_outbound=False
        )
        for peer, what in ((self.web_sg, "web app"), (self.mwaa_sg, "MWAA tasks")):
            self.db_sg.add_ingress_rule(peer, ec2.Port.tcp(config.db_port), f"{what} to PostgreSQL")

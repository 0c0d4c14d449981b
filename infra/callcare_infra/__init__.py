"""The callcare AWS CDK app: stacks, their wiring and the cdk-nag rules they are held to."""

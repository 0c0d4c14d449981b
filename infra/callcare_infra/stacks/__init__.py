"""One module per stack of the callcare CDK app."""

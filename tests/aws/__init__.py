"""aws-profile suites; a package so its conftest does not replace the root conftest module."""

"""The fault suites reuse the aws suites' fakes and fixtures: Drive, moto's server, dummy credentials."""

from aws.conftest import (  # noqa: F401  (fixtures, found by pytest by their names here)
    drive_connection,
    dummy_aws,
    fake_drive,
    moto_server,
    no_sleep,
)

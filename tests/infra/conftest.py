"""One synth of the whole CDK app per session (synth with cdk-nag takes tens of seconds).

These tests need the CDK environment: `.venv-infra/bin/python -m pytest tests/infra` (infra/bootstrap.sh
builds it). Under another interpreter each module skips itself.
"""

from __future__ import annotations

import pytest

from tests.infra.cdk_synth import PROD_CONTEXT, Synth, synthesize


@pytest.fixture(scope="session")
def prod(tmp_path_factory: pytest.TempPathFactory) -> Synth:
    return synthesize(PROD_CONTEXT, tmp_path_factory.mktemp("cdk-prod"))

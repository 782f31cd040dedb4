"""A provider that cannot run here skips; its dependents are skipped with why."""

import os

import pytest

import pytest_pexen as pexen


@pexen.provides("payments")
@pexen.claims("gateway")
def test_gateway_reachable():
    if "PAYMENTS_URL" not in os.environ:
        pytest.skip("no payment gateway configured (set PAYMENTS_URL)")


@pexen.requires("payments")
@pexen.claims("gateway")
def test_refund():
    pass

"""Fixtures for the local cloud's end-to-end tests: one real daemon per test session (real
hosts, real sshd, real loop devices), boto3 against its endpoint, paramiko for SSH.

Without root or namespaces these tests skip, unless SCLUST_REQUIRE_LOCAL_CLOUD=1 (CI): then
a skip is a failure."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # for localcloud_helpers
from localcloud_helpers import LocalCloud, connect, restart  # noqa: E402


def require_local_cloud() -> None:
    """Skip (or, with SCLUST_REQUIRE_LOCAL_CLOUD=1, fail) when this machine cannot run hosts."""
    from sclust.localcloud.control import missing_requirements

    missing = missing_requirements()
    if missing:
        reason = "local cloud unavailable: " + "; ".join(missing)
        if os.environ.get("SCLUST_REQUIRE_LOCAL_CLOUD") == "1":
            pytest.fail(reason + " (SCLUST_REQUIRE_LOCAL_CLOUD=1 forbids skipping)")
        pytest.skip(reason)


@pytest.fixture(scope="session")
def local_cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCloud]:
    require_local_cloud()
    from sclust.localcloud import control

    state_dir = tmp_path_factory.mktemp("localcloud")
    os.environ["SCLUST_LOCAL_PORT"] = "0"  # any free port: never clash with a user's daemon
    endpoint = control.up(state_dir)
    cloud = connect(state_dir, endpoint.url)
    try:
        yield cloud
    finally:
        left = control.down(state_dir)
        assert left == [], f"local cloud left {left}"


@pytest.fixture
def cloud(local_cloud: LocalCloud) -> LocalCloud:
    """The session cloud, brought back up if a test took it down."""
    from sclust.localcloud import control

    if control.running_endpoint(control.Layout(local_cloud.state_dir)) is None:
        restart(local_cloud)
    return local_cloud

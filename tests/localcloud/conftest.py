"""Fixtures for the local cloud's end-to-end tests: one real daemon per test session (real
hosts, real sshd, real loop devices), boto3 against its endpoint, paramiko for SSH.

Without root or namespaces these tests skip, unless SCLUST_REQUIRE_LOCAL_CLOUD=1 (CI): then
a skip is a failure."""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # for localcloud_helpers
from localcloud_helpers import LocalCloud, connect, restart  # noqa: E402

from tests.conftest import require  # noqa: E402


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


# Headless Chromium (selenium with Debian's chromium-driver), for the pages' tests.
CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"


@pytest.fixture
def browser(tmp_path: Path):
    require(Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists(),
            "no chromium and chromium-driver (Debian's; quickstart.sh installs them)")
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        require(False, "no selenium (the test extra)")
    os.environ["SE_OFFLINE"] = "true"  # selenium-manager must not look for drivers online
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-proxy-server",
                 "--ignore-certificate-errors",  # each desktop's certificate is its own
                 "--window-size=1700,1100", f"--user-data-dir={tmp_path / 'chromium-profile'}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(tmp_path / "chromium-profile", ignore_errors=True)

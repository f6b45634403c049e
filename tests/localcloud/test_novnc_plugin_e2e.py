"""The novnc plugin on a cluster master and `sclust vnc TAG`, end to end on the local cloud:
`sclust start` ends with the master's noVNC URL and password, that password opens the master's
desktop through noVNC, restarts keep it, and `sclust vnc` tunnels noVNC over SSH to localhost
(the plugin's port needs not be open)."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from localcloud_helpers import cluster_config

from sclust.desktops.rfb import VncAuthFailed, https_get, open_session
from tests.conftest import REPO, run_sclust

PORT = 8443


@pytest.fixture
def scipion(cloud, tmp_path: Path):
    config = cluster_config(cloud, tmp_path, "scipion", "LOGIN_USER = ubuntu\nPLUGINS = novnc\n",
                            f"[plugin novnc]\nSETUP_CLASS = novnc.NoVNC\nPORT = {PORT}\n")
    ctx = {"config": config, "env": {"SCLUST_LOCAL_DIR": str(cloud.state_dir)}}
    yield ctx
    run_sclust("-c", str(config), "terminate", "scipion", "--yes", env=ctx["env"], timeout=300)


def sclust(ctx: dict, *args: str):
    result = run_sclust("-c", str(ctx["config"]), *args, env=ctx["env"], timeout=300)
    assert result.returncode == 0, f"sclust {' '.join(args)}:\n{result.stderr}"
    return result


def test_novnc_plugin_reports_url_and_password_and_sclust_vnc_tunnels(scipion) -> None:
    started = sclust(scipion, "start", "scipion").stdout
    found = re.search(r"plugin novnc: noVNC on the master: (https://([\d.]+):(\d+)/vnc\.html) "
                      r"password (\S+) \(session user (\S+), gpu none\)", started)
    assert found, started
    url, address, port, password, user = found.groups()
    assert int(port) == PORT and user == "sgeadmin"  # the cluster user: shared /home, SGE jobs
    assert "plugin novnc: with no port open: sclust vnc scipion" in started
    assert https_get(address, PORT, "/vnc.html")[0] == 200
    with open_session(address, PORT, password) as session:
        assert session.desktop_name == address
    with pytest.raises(VncAuthFailed):
        open_session(address, PORT, "Wr0ngPw8")

    # Running the plugin again keeps the password (kept on the master, root-only).
    again = sclust(scipion, "runplugin", "novnc", "scipion").stdout
    assert f"password {password} " in again

    # `sclust vnc`: an SSH tunnel to the master's noVNC, a localhost URL, until Ctrl-C.
    tunnel = subprocess.Popen(
        [sys.executable, "-m", "sclust.cli", "-c", str(scipion["config"]), "vnc", "scipion",
         "--local-port", "16080"], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, env={**__import__("os").environ, **scipion["env"]})
    try:
        assert tunnel.stdout is not None
        first = tunnel.stdout.readline().strip()
        assert first == "https://localhost:16080/vnc.html", tunnel.stderr.read() if \
            tunnel.poll() is not None else first
        assert tunnel.stdout.readline().strip() == f"password: {password}"
        assert https_get("127.0.0.1", 16080, "/vnc.html")[0] == 200
        with open_session("127.0.0.1", 16080, password) as session:
            assert session.desktop_name == address
    finally:
        tunnel.send_signal(signal.SIGINT)
        assert tunnel.wait(timeout=15) == 0
    time.sleep(0.2)
    with pytest.raises(OSError):
        https_get("127.0.0.1", 16080, "/vnc.html", timeout=2)

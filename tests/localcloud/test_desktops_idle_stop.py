"""IDLE_STOP on the local cloud: a desktop nobody has open stops itself after IDLE_STOP; one
whose student keeps noVNC open stays running; `desktops start` brings the stopped one back."""

from __future__ import annotations

import csv
import io
import json
import time
from pathlib import Path

from desktops_helpers import course_config, wait_session
from localcloud_helpers import wait_state

from tests.conftest import run_sclust


def test_a_desktop_without_a_client_stops_itself_and_one_in_use_stays(cloud,
                                                                       tmp_path: Path) -> None:
    config = course_config(cloud, tmp_path, "idle", 2, "IDLE_STOP = 2m\n")
    env = {"SCLUST_LOCAL_DIR": str(cloud.state_dir)}

    def sclust(*args: str):
        result = run_sclust("-c", str(config), *args, env=env, timeout=300)
        assert result.returncode == 0, f"sclust {' '.join(args)}:\n{result.stderr}"
        return result

    try:
        sclust("desktops", "start", "idle")
        desktops = json.loads(sclust("desktops", "list", "idle", "--json").stdout)
        sheet = tmp_path / "sheet.csv"
        sclust("desktops", "roster", "idle", "--csv", str(sheet))
        password = next(r["password"] for r in csv.DictReader(io.StringIO(sheet.read_text()))
                        if r["number"] == "01")
        began = time.monotonic()
        with wait_session(desktops[0]["address"], 443, password):  # the student on 01
            wait_state(cloud, [desktops[1]["instance_id"]], "stopped", timeout=240)
            idle_for = time.monotonic() - began
            listed = json.loads(sclust("desktops", "list", "idle", "--json").stdout)
            assert [d["state"] for d in listed] == ["running", "stopped"]
        print(f"\ndesktop 02 stopped itself {idle_for:.0f} s after setup (IDLE_STOP = 2m)")
        assert idle_for >= 60  # not at once: the two minutes count from the setup
        sclust("desktops", "start", "idle")
        assert {d["state"] for d in json.loads(
            sclust("desktops", "list", "idle", "--json").stdout)} == {"running"}
    finally:
        run_sclust("-c", str(config), "desktops", "terminate", "idle", "--yes", env=env,
                   timeout=300)

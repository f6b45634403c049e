"""`sclust desktops …` end to end on the local cloud, as an instructor would use it: three
desktops with their own Elastic IPs and passwords, each reachable in noVNC over HTTPS and
opened only by its own password (spoken as VNC through the websocket, as a browser does),
`run` with each desktop's status, auto-stop stopping a desktop by itself, stop/start keeping
every address, the Elastic IP quota refusing a 6th desktop, and terminate leaving nothing."""

from __future__ import annotations

import csv
import datetime
import io
import json
import time
import zoneinfo
from pathlib import Path

import pytest
from desktops_helpers import course_config, next_minute, wait_session
from localcloud_helpers import describe, wait_state

from sclust.desktops.rfb import VncAuthFailed, https_get, open_session
from tests.conftest import run_sclust

TIMEZONE = "Europe/Madrid"
LIB = "/usr/local/lib/sclust-desktop"


@pytest.fixture
def course(cloud, tmp_path: Path):
    # Installed on every desktop, but hours away: the test fires it on one desktop itself.
    later = (datetime.datetime.now(zoneinfo.ZoneInfo(TIMEZONE))
             + datetime.timedelta(hours=6)).strftime("%H:%M")
    config = course_config(cloud, tmp_path, "course", 3, f"""\
        AUTO_STOP = {later}
        TIMEZONE = {TIMEZONE}
        PLUGINS = tools, helpers

        [plugin tools]
        SETUP_CLASS = pkginstaller.PackageInstaller
        PACKAGES = procps

        [plugin helpers]
        SETUP_CLASS = users.CreateUsers
        USERNAMES = tutor
        """, instance_type="g4dn.xlarge")
    ctx = {"config": config, "env": {"SCLUST_LOCAL_DIR": str(cloud.state_dir)},
           "cloud": cloud, "tmp": tmp_path, "auto_stop": later}
    yield ctx
    run_sclust("-c", str(config), "desktops", "terminate", "course", "--yes", env=ctx["env"],
               timeout=300)


def sclust(ctx: dict, *args: str, ok: bool = True):
    result = run_sclust("-c", str(ctx["config"]), *args, env=ctx["env"], timeout=300)
    if ok:
        assert result.returncode == 0, f"sclust {' '.join(args)}:\n{result.stderr}"
    return result


def listed(ctx: dict) -> list[dict]:
    return json.loads(sclust(ctx, "desktops", "list", "course", "--json").stdout)


def passwords(ctx: dict) -> dict[str, str]:
    sheet = ctx["tmp"] / "sheet.csv"
    sclust(ctx, "desktops", "roster", "course", "--csv", str(sheet))
    return {row["number"]: row["password"] for row in csv.DictReader(io.StringIO(
        sheet.read_text()))}


def login(address: str, password: str) -> str:
    """The desktop name after logging in through noVNC (retrying while the desktop boots)."""
    with wait_session(address, 443, password) as session:
        return session.desktop_name


def test_a_course_of_three_desktops_on_the_local_cloud(course) -> None:
    cloud = course["cloud"]
    began = time.monotonic()
    started = sclust(course, "desktops", "start", "course")
    # PLUGINS run on each desktop as a cluster of one, and report what they did.
    for number in ("01", "02", "03"):
        assert f"plugin tools: desktop {number}: procps installed on 1 node(s)" in started.stdout
        assert f"plugin helpers: desktop {number}: user tutor (uid" in started.stdout
    print(f"\nsclust desktops start (3 desktops, set up, noVNC answering): "
          f"{time.monotonic() - began:.1f} s")

    desktops = listed(course)
    assert [d["number"] for d in desktops] == ["01", "02", "03"]
    addresses = [d["address"] for d in desktops]
    assert len(set(addresses)) == 3 and all(a.startswith("198.18.") for a in addresses)
    assert all(d["elastic_ip"] and d["state"] == "running" for d in desktops)
    eips = {a["PublicIp"]: a["InstanceId"] for a in cloud.ec2.describe_addresses()["Addresses"]}
    assert eips == {d["address"]: d["instance_id"] for d in desktops}

    # Each page loads over HTTPS; each desktop opens with its password, not with another's.
    secret = passwords(course)
    assert len(set(secret.values())) == 3
    page = course["tmp"] / "roster.html"
    sclust(course, "desktops", "roster", "course", "--html", str(page))
    assert not any(p in page.read_text() for p in secret.values())
    for i, desktop in enumerate(desktops):
        status, body = https_get(desktop["address"], 443, "/vnc.html")
        assert status == 200 and b"noVNC" in body
        assert desktop["url"] == f"https://{desktop['address']}/vnc.html"
        assert login(desktop["address"], secret[desktop["number"]]) == f"course-{desktop['number']}"
        other = secret[desktops[(i + 1) % 3]["number"]]
        with pytest.raises(VncAuthFailed):
            open_session(desktop["address"], 443, other)

    # `run`: every desktop's own exit status (only 02 has its name in its VNC settings).
    result = sclust(course, "desktops", "run", "course",
                    "grep -q course-02 /etc/sclust-desktop/vnc.env", ok=False)
    assert result.returncode == 1 and "1/3 succeeded" in result.stdout
    rows = {line.split("│")[1].strip(): line.split("│")[3].strip()
            for line in result.stdout.splitlines() if line.count("│") >= 4
            and line.split("│")[1].strip() in ("01", "02", "03")}
    assert rows == {"01": "1", "02": "0", "03": "1"}

    # Auto-stop: installed on every desktop; fired on 01 (its time moved a minute ahead),
    # the desktop powers itself off and the instance becomes stopped.
    installed = sclust(course, "desktops", "run", "course", "--sudo",
                       f"grep -x 'AUTO_STOP={course['auto_stop']}' "
                       "/etc/sclust-desktop/autostop.env && pgrep -f run-autostop >/dev/null"
                       " && test -d ~tutor/.ssh")  # and the plugin's user, with a home
    assert "3/3 succeeded" in installed.stdout
    soon = next_minute(TIMEZONE)
    sclust(course, "desktops", "run", "course", "-n", "1", "--sudo",
           f"sed -i 's/^AUTO_STOP=.*/AUTO_STOP={soon}/' /etc/sclust-desktop/autostop.env"
           f" && {LIB}/sclust-desktop restart autostop")
    wait_state(cloud, [desktops[0]["instance_id"]], "stopped", timeout=150)
    assert describe(cloud, [desktops[1]["instance_id"]])[0]["State"]["Name"] == "running"
    assert [d["state"] for d in listed(course)] == ["stopped", "running", "running"]

    # Overnight: stop all, start in the morning: same addresses, same passwords.
    sclust(course, "desktops", "stop", "course", "--yes")
    assert {d["state"] for d in listed(course)} == {"stopped"}
    sclust(course, "desktops", "start", "course")
    morning = listed(course)
    assert [d["address"] for d in morning] == addresses
    assert {d["state"] for d in morning} == {"running"}
    for desktop in morning:
        assert login(desktop["address"], secret[desktop["number"]]) == f"course-{desktop['number']}"

    # The quota (5 Elastic IPs in the region): two more fit, a 6th is refused with why.
    sclust(course, "desktops", "add", "course", "-n", "2")
    assert len(cloud.ec2.describe_addresses()["Addresses"]) == 5
    refused = sclust(course, "desktops", "add", "course", "-n", "1", ok=False)
    assert refused.returncode == 1
    assert "need 1 more Elastic IP(s) but only 0 of the 5 allowed" in refused.stderr
    assert "Service Quotas" in refused.stderr
    assert len(listed(course)) == 5

    ids = [d["instance_id"] for d in listed(course)]
    sclust(course, "desktops", "terminate", "course", "--yes")
    assert cloud.ec2.describe_addresses()["Addresses"] == []
    assert {i["State"]["Name"] for i in describe(cloud, ids)} == {"terminated"}

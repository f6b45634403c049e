"""A plain local-cloud host made a desktop by the noVNC kind's setup over SSH (as sclust
does: the image's login user, sudo, steps and inputs on stdin): noVNC over HTTPS with its own
certificate, VNC authentication through it, the password nowhere in the clear, idempotent
re-runs, daemons back after stop/start, the auto-stop timer stopping the instance, and the
systemd branch (units, timer) checked by systemd's own verifier."""

from __future__ import annotations

import datetime
import socket
import time
import zoneinfo
from pathlib import Path

import pytest
from desktops_helpers import next_minute, wait_session
from localcloud_helpers import describe, launch, terminate, wait_state

from sclust.desktops.kinds import DesktopReport, DesktopSpec
from sclust.desktops.kinds.novnc import NOVNC, novnc_url
from sclust.desktops.rfb import VncAuthFailed, https_get, open_session
from sclust.scripts import ScriptRun
from sclust.ssh import Connection, PinnedHostKeys

PORT = 443  # the template's default: a privileged port, bound by an unprivileged websockify
TIMEZONE = "Asia/Kolkata"  # +05:30: a wrong time-zone handling shows up as a wrong minute


def desktop_setup_script(password: str, port: int, auto_stop: str | None,
                         timezone: str | None, host_name: str) -> ScriptRun:
    return NOVNC.setup(DesktopSpec(port, host_name, auto_stop, timezone), password)


def run_desktop_setup(conn: Connection, run: ScriptRun) -> DesktopReport:
    return NOVNC.parse_report(conn.run_script(run, timeout=1800).stdout)


def connection(cloud, instance: dict, tmp_path: Path) -> Connection:
    key = tmp_path / "key.pem"
    if not key.exists():
        key.write_text(cloud.key_pem)
        key.chmod(0o600)
    return Connection("desktop", instance["PublicIpAddress"], "ubuntu", key,
                      PinnedHostKeys(tmp_path / "known_hosts"))


def daemon_pids(conn: Connection) -> dict[str, str]:
    out = conn.run("ps -eo pid=,user:32=,comm=", sudo=True).stdout
    return {f"{user}:{comm}": pid for pid, user, comm in
            (line.split(None, 2) for line in out.splitlines())
            if comm in ("Xtigervnc", "websockify", "icewm", "icewm-session")}


@pytest.fixture
def desktop(cloud, tmp_path: Path):
    [instance] = launch(cloud)
    yield instance
    terminate(cloud, [instance])


def test_a_host_becomes_a_desktop_reachable_only_through_novnc_with_its_password(
        cloud, desktop, tmp_path: Path) -> None:
    address = desktop["PublicIpAddress"]
    conn = connection(cloud, desktop, tmp_path)
    began = time.monotonic()
    report = run_desktop_setup(conn, desktop_setup_script("Dk4mTq7z", PORT, None, None, "desk-01"))
    print(f"\nsetup of a fresh host: {time.monotonic() - began:.2f} s")
    assert (report.user, report.novnc_port, report.auto_stop, report.gpu_line) == \
        ("student", PORT, None, "gpu none")

    assert novnc_url(address, PORT) == f"https://{address}/vnc.html"
    status, body = https_get(address, PORT, "/vnc.html", report.cert_sha256)
    assert status == 200 and b"noVNC" in body
    with open_session(address, PORT, "Dk4mTq7z", report.cert_sha256) as session:
        assert session.desktop_name == "desk-01"
        # The desktop session (IceWM) draws: the screen's bottom rows are not all one colour.
        deadline = time.monotonic() + 15
        while len(set(session.region(0, session.height - 30, 400, 30))) < 8:
            assert time.monotonic() < deadline, "nothing was drawn on the desktop"
            time.sleep(0.5)
    for _ in range(6):  # more than TigerVNC's blacklist threshold: a stranger cannot lock out
        with pytest.raises(VncAuthFailed):
            open_session(address, PORT, "Xx9wrong", report.cert_sha256)
    open_session(address, PORT, "Dk4mTq7z", report.cert_sha256).close()
    with pytest.raises(OSError):  # the VNC server itself listens on the host's localhost only
        socket.create_connection((address, 5901), timeout=2).close()

    pids = daemon_pids(conn)
    assert set(pids) >= {"student:Xtigervnc", "sclust-novnc:websockify", "student:icewm-session"}
    everything = conn.run("ps -eo args; cat /etc/sclust-desktop/*.env /etc/rc.local; "
                          "tail -n +1 /var/log/sclust-desktop/*", sudo=True).stdout
    assert "Dk4mTq7z" not in everything
    assert conn.run("stat -c '%a %U %G' /etc/sclust-desktop/vncpasswd /etc/sclust-desktop/"
                    "novnc.key", sudo=True).stdout.split("\n")[:2] == \
        ["640 root student", "640 root sclust-novnc"]

    # Re-running is harmless (nothing restarts); a new password applies with no restart.
    again = run_desktop_setup(conn, desktop_setup_script("Dk4mTq7z", PORT, None, None, "desk-01"))
    assert again.cert_sha256 == report.cert_sha256 and daemon_pids(conn) == pids
    run_desktop_setup(conn, desktop_setup_script("Nw8pRt3k", PORT, None, None, "desk-01"))
    assert daemon_pids(conn) == pids
    with pytest.raises(VncAuthFailed):
        open_session(address, PORT, "Dk4mTq7z", report.cert_sha256)

    # Stop/start: the daemons come back at boot with the same certificate and password.
    conn.close()
    cloud.ec2.stop_instances(InstanceIds=[desktop["InstanceId"]])
    wait_state(cloud, [desktop["InstanceId"]], "stopped")
    cloud.ec2.start_instances(InstanceIds=[desktop["InstanceId"]])
    [restarted] = wait_state(cloud, [desktop["InstanceId"]], "running")
    began = time.monotonic()
    with wait_session(restarted["PublicIpAddress"], PORT, "Nw8pRt3k",
                      report.cert_sha256) as session:
        assert session.desktop_name == "desk-01"
    print(f"desktop answering after start: {time.monotonic() - began:.2f} s")


def test_auto_stop_powers_the_desktop_off_and_the_instance_stops(
        cloud, desktop, tmp_path: Path) -> None:
    conn = connection(cloud, desktop, tmp_path)
    at = next_minute(TIMEZONE)
    report = run_desktop_setup(conn, desktop_setup_script("Au7oStop", PORT, at, TIMEZONE,
                                                          "desk-02"))
    assert report.auto_stop == f"{at} {TIMEZONE}"
    log = conn.run("sleep 0.5; cat /var/log/sclust-desktop/autostop.log", sudo=True).stdout
    today = datetime.datetime.now(zoneinfo.ZoneInfo(TIMEZONE))
    target = today.replace(hour=int(at[:2]), minute=int(at[3:]), second=0, microsecond=0)
    if target < today:
        target += datetime.timedelta(days=1)
    assert f"auto-stop at {target.isoformat()}" in log  # date -Is prints the zone's offset
    conn.close()
    wait_state(cloud, [desktop["InstanceId"]], "stopped", timeout=150)
    [stopped] = describe(cloud, [desktop["InstanceId"]])
    assert stopped["StateReason"]["Code"] == "Client.InstanceInitiatedShutdown"


def test_where_systemd_is_pid_1_the_daemons_become_units_and_auto_stop_a_timer(
        cloud, desktop, tmp_path: Path) -> None:
    # The local cloud has no systemd: the host is made to look like it (/run/systemd/system)
    # with a systemctl that records its calls, after a first setup started the daemons.
    conn = connection(cloud, desktop, tmp_path)
    run_desktop_setup(conn, desktop_setup_script("Sy5temdD", PORT, None, None, "desk-03"))
    conn.run("mkdir -p /run/systemd/system && printf '#!/bin/sh\\necho \"$*\" >> "
             "/run/systemctl.log\\n' > /usr/local/sbin/systemctl && "
             "chmod 755 /usr/local/sbin/systemctl", sudo=True)
    report = run_desktop_setup(conn, desktop_setup_script("Sy5temdD", PORT, "18:00", TIMEZONE,
                                                          "desk-03"))
    assert report.auto_stop == f"18:00 {TIMEZONE}"
    calls = conn.run("cat /run/systemctl.log", sudo=True).stdout.splitlines()
    units = ("sclust-desktop-vnc.service sclust-desktop-session.service "
             "sclust-desktop-novnc.service sclust-desktop-autostop.timer")
    assert calls[0] == "daemon-reload" and calls[-1] == f"enable --now {units}"
    assert sorted(calls[1:-1]) == [f"try-restart {u}" for u in sorted(units.split())]
    timer = conn.run("cat /etc/systemd/system/sclust-desktop-autostop.timer", sudo=True).stdout
    assert f"OnCalendar=*-*-* 18:00:00 {TIMEZONE}\n" in timer
    # systemd's own checker accepts every unit (ExecStart programs exist, syntax is right).
    verify = conn.run("cd / && systemd-analyze verify --man=no /etc/systemd/system/"
                      "sclust-desktop-*.service /etc/systemd/system/sclust-desktop-*.timer 2>&1",
                      sudo=True, check=False)
    assert verify.status == 0 and verify.stdout.strip() == "", verify.stdout

    # Re-running with nothing changed restarts nothing.
    conn.run("rm /run/systemctl.log", sudo=True)
    run_desktop_setup(conn, desktop_setup_script("Sy5temdD", PORT, "18:00", TIMEZONE, "desk-03"))
    assert conn.run("cat /run/systemctl.log", sudo=True).stdout.splitlines() == \
        ["daemon-reload", f"enable --now {units}"]

"""desktop_setup_script's contract without a host: refused settings, the password never in
clear, valid bash, the report parser, the URL, the systemd timer's calendar."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from sclust.desktops.vnc import (
    DesktopSetupError,
    desktop_setup_script,
    novnc_url,
    parse_setup_output,
)
from tests.conftest import require


def test_the_script_is_bash_and_never_holds_the_password_in_clear() -> None:
    script = desktop_setup_script("Sw0rdf1s", 443, "18:00", "Europe/Madrid", "course-01")
    assert "Sw0rdf1s" not in script
    subprocess.run(["bash", "-n"], input=script, text=True, check=True)
    assert "AUTO_STOP=18:00\n" in script and "TZONE=Europe/Madrid\n" in script
    assert "DESKTOP_USER=student\n" in script


@pytest.mark.parametrize("args, problem", [
    (("short", 443, None, None, "d"), "6 to 8 printable"),
    (("toolongpass", 443, None, None, "d"), "6 to 8 printable"),
    (("has space", 443, None, None, "d"), "6 to 8 printable"),
    (("goodpass", 22, None, None, "d"), "noVNC port"),
    (("goodpass", 5901, None, None, "d"), "noVNC port"),
    (("goodpass", 443, "25:00", None, "d"), "AUTO_STOP must be HH:MM"),
    (("goodpass", 443, "6pm", None, "d"), "AUTO_STOP must be HH:MM"),
    (("goodpass", 443, "18:00", "../../etc/passwd", "d"), "not a time zone"),
    (("goodpass", 443, None, None, "a b;rm"), "not a host name"),
])
def test_settings_sclust_cannot_use_are_refused_with_the_reason(args, problem) -> None:
    with pytest.raises(DesktopSetupError, match=problem):
        desktop_setup_script(*args)


def test_the_session_user_can_be_chosen_but_not_root() -> None:
    assert "DESKTOP_USER=sgeadmin\n" in desktop_setup_script("goodpass", 443, None, None, "m",
                                                            user="sgeadmin")
    with pytest.raises(DesktopSetupError, match="session"):
        desktop_setup_script("goodpass", 443, None, None, "m", user="root")


def test_report_lines_are_parsed_and_missing_ones_named() -> None:
    report = parse_setup_output("noise\ndesktop-user student\nnovnc-port 443\ncert-sha256 AB:CD\n"
                                "auto-stop 18:00 Europe/Madrid\ngpu 4\n")
    assert (report.user, report.novnc_port, report.auto_stop, report.gpus, report.gpu_line) == \
        ("student", 443, "18:00 Europe/Madrid", 4, "gpu 4")
    none = parse_setup_output("desktop-user s\nnovnc-port 1\ncert-sha256 x\nauto-stop off\n"
                              "gpu none\n")
    assert none.gpus is None and none.auto_stop is None and none.gpu_line == "gpu none"
    with pytest.raises(DesktopSetupError, match="cert-sha256, gpu"):
        parse_setup_output("desktop-user s\nnovnc-port 1\nauto-stop off\n")


def test_novnc_url() -> None:
    assert novnc_url("198.18.0.7", 443) == "https://198.18.0.7/vnc.html"
    assert novnc_url("198.18.0.7", 8443) == "https://198.18.0.7:8443/vnc.html"
    assert novnc_url("2001:db8::1", 6080) == "https://[2001:db8::1]:6080/vnc.html"


def test_the_systemd_timer_calendar_with_a_time_zone_is_valid() -> None:
    require(shutil.which("systemd-analyze") is not None, "no systemd-analyze")
    # The timer unit the script writes where systemd is PID 1 (EC2's Ubuntu, Amazon Linux).
    done = subprocess.run(["systemd-analyze", "calendar", "*-*-* 18:00:00 Asia/Kolkata"],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "18:00:00 Asia/Kolkata" in done.stdout

"""The DesktopKind seam and the noVNC kind without a host: refused settings, the password never
in clear, the inputs as data, the report parser, the URL, the registry, the systemd timer."""

from __future__ import annotations

import base64
import shutil
import subprocess
from dataclasses import asdict

import pytest

from sclust.desktops.kinds import DesktopSetupError, DesktopSpec, desktop_kind, kinds, parse_report
from sclust.desktops.kinds.novnc import NOVNC, novnc_url
from sclust.desktops.state import CourseSettings
from sclust.errors import SclustError
from sclust.scripts import rendered
from sclust.state import json_tags
from tests.conftest import require


def setup(password: str, port: int, auto_stop: str | None, timezone: str | None, name: str,
          user: str = "student"):
    return NOVNC.setup(DesktopSpec(port, name, auto_stop, timezone, user), password)


def test_the_script_is_bash_and_never_holds_the_password_in_clear() -> None:
    run = setup("Sw0rdf1s", 443, "18:00", "Europe/Madrid", "course-01")
    script = rendered(run)
    assert "Sw0rdf1s" not in script and "Sw0rdf1s" not in "".join(run.inputs.values())
    subprocess.run(["bash", "-n"], input=script, text=True, check=True)
    assert run.inputs["auto_stop"] == "18:00" and run.inputs["timezone"] == "Europe/Madrid"
    assert run.inputs["desktop_user"] == "student" and run.inputs["port"] == "443"
    assert run.describe() == "desktop-base.sh + novnc.sh + desktop-start.sh"


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
        setup(*args)


def test_the_session_user_can_be_chosen_but_not_root() -> None:
    assert setup("goodpass", 443, None, None, "m", user="sgeadmin").inputs["desktop_user"] \
        == "sgeadmin"
    with pytest.raises(DesktopSetupError, match="session"):
        setup("goodpass", 443, None, None, "m", user="root")


def test_report_lines_are_parsed_and_missing_ones_named() -> None:
    report = parse_report("noise\ndesktop-user student\nport 443\ncert-sha256 AB:CD\n"
                          "auto-stop 18:00 Europe/Madrid\ngpu 4\n")
    assert (report.user, report.port, report.auto_stop, report.gpus, report.gpu_line) == \
        ("student", 443, "18:00 Europe/Madrid", 4, "gpu 4")
    none = parse_report("desktop-user s\nport 1\ncert-sha256 x\nauto-stop off\ngpu none\n")
    assert none.gpus is None and none.auto_stop is None and none.gpu_line == "gpu none"
    with pytest.raises(DesktopSetupError, match="cert-sha256, gpu"):
        parse_report("desktop-user s\nport 1\nauto-stop off\n")


def test_novnc_url() -> None:
    assert novnc_url("198.18.0.7", 443) == "https://198.18.0.7/vnc.html"
    assert novnc_url("198.18.0.7", 8443) == "https://198.18.0.7:8443/vnc.html"
    assert novnc_url("2001:db8::1", 6080) == "https://[2001:db8::1]:6080/vnc.html"


def test_the_kind_gives_its_port_credential_and_group_rule_from_the_course_settings() -> None:
    settings = CourseSettings(template="t", keyname="k", image_id="ami-1",
                              instance_type="t3.micro", novnc_port=8443)
    kind = desktop_kind(settings.kind)
    assert kind is NOVNC and set(kinds()) == {"novnc", "jupyter"}
    assert kind.port(settings) == 8443 and kind.ports(settings) == [(8443, "noVNC (HTTPS)")]
    credential = kind.new_credential()
    assert len(credential) == 8 and kind.credential_problem(credential) is None
    assert kind.credential_problem("no") is not None
    # Courses made before kinds have no `kind` in their tags: they are noVNC courses.
    data = {k: v for k, v in asdict(settings).items() if k != "kind"}
    assert CourseSettings.from_tags(json_tags(data, 1), "c").kind == "novnc"
    with pytest.raises(SclustError, match="unknown desktop kind 'vnc' \\(known: jupyter, novnc\\)"):
        desktop_kind("vnc")


def test_the_systemd_timer_calendar_with_a_time_zone_is_valid() -> None:
    require(shutil.which("systemd-analyze") is not None, "no systemd-analyze")
    # The timer unit the script writes where systemd is PID 1 (EC2's Ubuntu, Amazon Linux).
    done = subprocess.run(["systemd-analyze", "calendar", "*-*-* 18:00:00 Asia/Kolkata"],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "18:00:00 Asia/Kolkata" in done.stdout


def test_a_desktop_serving_novnc_and_jupyter_runs_both_steps_with_their_own_credentials() -> None:
    from sclust.desktops.kinds import Served, desktop_setup
    from sclust.desktops.kinds.jupyter import JUPYTER

    token = JUPYTER.new_credential()
    assert len(token) == 20 and JUPYTER.credential_problem(token) is None
    assert JUPYTER.credential_problem("short") is not None
    assert JUPYTER.credential_problem("x" * 20 + "'") is not None
    spec = DesktopSpec(443, "course-07", label="07", idle_stop=2700)
    run = desktop_setup(spec, [Served(NOVNC, 443, "abcdefgh"), Served(JUPYTER, 8443, token)])
    assert run.describe() == "desktop-base.sh + novnc.sh + jupyter.sh + desktop-start.sh"
    assert run.inputs["jupyter_token"] == token and run.inputs["jupyter_port"] == "8443"
    assert run.inputs["desktop_label"] == "07" and run.inputs["idle_stop"] == "2700"
    assert base64.b64decode(run.inputs["wallpaper_png"]).startswith(b"\x89PNG")
    assert JUPYTER.url("198.18.0.5", 8443) == "https://198.18.0.5:8443/lab"
    with pytest.raises(DesktopSetupError, match="its own port"):
        desktop_setup(spec, [Served(NOVNC, 443, "abcdefgh"), Served(JUPYTER, 443, token)])
    with pytest.raises(DesktopSetupError, match="not a desktop number"):
        NOVNC.setup(DesktopSpec(443, "c-1", label="1; rm"), "abcdefgh")
    with pytest.raises(DesktopSetupError, match="IDLE_STOP"):
        NOVNC.setup(DesktopSpec(443, "c-1", idle_stop=5), "abcdefgh")


def test_course_kinds_come_from_settings_tags_checked(tmp_path) -> None:
    from sclust.desktops.kinds import course_kinds

    settings = CourseSettings(template="t", keyname="k", image_id="ami-1",
                              instance_type="t3.micro", kind="novnc,jupyter")
    assert [k.name for k in course_kinds(settings)] == ["novnc", "jupyter"]
    settings.kind = "novnc,$(reboot)"
    with pytest.raises(SclustError, match="unknown desktop kind"):
        course_kinds(settings)


def test_a_password_file_from_before_kinds_reads_as_novnc_passwords(
        tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    import json

    from sclust.desktops.kinds.jupyter import JUPYTER
    from sclust.desktops.passwords import PasswordStore, passwords_file

    monkeypatch.setenv("SCLUST_HOME", str(tmp_path))
    path = passwords_file("r", "c")
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"desktops": {"01": {"instance_id": "i-1", "password": "abcdefgh",
                                                    "student": "Ana"}}}))
    store = PasswordStore.load("r", "c")
    assert store.known("01", "i-1") == {"novnc": "abcdefgh"}
    both = store.for_desktop("01", "i-1", [NOVNC, JUPYTER])
    assert both["novnc"] == "abcdefgh" and len(both["jupyter"]) == 20
    assert store.for_desktop("01", "i-2", [NOVNC])["novnc"] != "abcdefgh"  # a new instance

"""`[desktops NAME]` templates: EXTENDS, the STUDENTS roster, and errors at file:line."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from sclust.config import load_config
from sclust.desktops.template import desktops_template
from sclust.errors import ConfigError
from tests.conftest import write_key

BASE = """\
[key k]
KEY_LOCATION = {key}

[desktops base]
KEYNAME = k
IMAGE_ID = ami-12345678
INSTANCE_TYPE = g4dn.xlarge
AUTO_STOP = 18:00
TIMEZONE = Europe/Madrid

[desktops course]
EXTENDS = base
{extra}
[permission jupyter]
FROM_PORT = 15500
TO_PORT = 15500
"""


def config(tmp_path: Path, extra: str, roster: str | None = None) -> Path:
    key = write_key(tmp_path / "k.pem")
    if roster is not None:
        (tmp_path / "students.csv").write_text(textwrap.dedent(roster))
    path = tmp_path / "config"
    path.write_text(BASE.format(key=key, extra=textwrap.dedent(extra)))
    return path


def build(path: Path, name: str = "course"):
    return desktops_template(load_config(path), name)


def test_extends_and_a_roster_give_one_desktop_per_student(tmp_path: Path) -> None:
    path = config(tmp_path, "STUDENTS = students.csv\nPERMISSIONS = jupyter\nTAGS = owner=ana\n",
                  roster="""\
                  name,email
                  Ana García,ana@example.org

                  Bo Li,bo@example.org
                  """)
    template = build(path)
    assert template.instance_type == "g4dn.xlarge"  # from base
    assert template.auto_stop == "18:00" and template.timezone == "Europe/Madrid"
    assert template.count == 2
    assert [s.name for s in template.students] == ["Ana García", "Bo Li"]
    assert template.student(2).email == "bo@example.org" and template.student(3) is None
    assert template.elastic_ips is True and template.novnc_port == 443
    assert template.login_user == "ubuntu"
    assert [p.from_port for p in template.permissions] == [15500]
    assert template.tags == {"owner": "ana"}


def test_count_may_exceed_the_roster_for_spare_desktops(tmp_path: Path) -> None:
    path = config(tmp_path, "STUDENTS = students.csv\nCOUNT = 4\n", roster="Ana,a@x.org\n")
    template = build(path)
    assert template.count == 4 and len(template.students) == 1


@pytest.mark.parametrize("extra, roster, line, message", [
    ("", None, 11, "[desktops course] COUNT: give COUNT (how many desktops) or STUDENTS"),
    ("COUNT = 0\n", None, 13, "[desktops course] COUNT: 0 is less than 1"),
    ("COUNT = 1\nSTUDENTS = students.csv\n", "a,a@x.org\nb,b@x.org\n", 13,
     "COUNT: 1 desktops for 2 students"),
    ("STUDENTS = students.csv\n", "a,a@x.org\nA,b@x.org\n", 13,
     "students.csv:2: 'A' is already on line 1"),
    ("STUDENTS = students.csv\n", "a,not-an-address\n", 13,
     "'not-an-address' is not an e-mail address"),
    ("STUDENTS = missing.csv\n", None, 13, "roster 'missing.csv' does not exist"),
    ("STUDENTS = /dev/zero\n", None, 13, "roster '/dev/zero' is not a regular file"),
    ("STUDENTS = ~nosuchuser42/r.csv\n", None, 13, "no such user's home directory"),
    ("COUNT = 2\nAUTO_STOP = 25:00\n", None, 14, "AUTO_STOP: '25:00' is not a time of day"),
    ("COUNT = 2\nTIMEZONE = Mars/Olympus\n", None, 14, "'Mars/Olympus' is not a time zone"),
    ("COUNT = 2\nELASTIC_IP = no\n", None, 14, "unknown key (did you mean 'ELASTIC_IPS'?)"),
    ("COUNT = 2\nPERMISSIONS = jupiter\n", None, 14,
     "no [permission jupiter] (did you mean 'jupyter'?)"),
    ("COUNT = 2\nTAGS = sclust:desktops=x\n", None, 14, "set by sclust"),
    ("COUNT = 2\nNOVNC_PORT = 22\n", None, 14, "22 is SSH's port"),
    ("COUNT = 2\nKIND = novcn\n", None, 14,
     "KIND: unknown desktop kind 'novcn' (did you mean 'novnc'?) (known: jupyter, novnc)"),
    ("COUNT = 2\nKIND = novnc, jupyter\nJUPYTER_PORT = 443\n", None, 15,
     "noVNC and JupyterLab both on port 443"),
    ("COUNT = 2\nKIND = jupyter, jupyter\n", None, 14, "named twice"),
    ("COUNT = 2\nJUPYTER_PORT = 5901\n", None, 14, "JupyterLab port must be"),
    ("COUNT = 2\nIDLE_STOP = 45\n", None, 14, "is not a duration"),
    ("COUNT = 2\nIDLE_STOP = 30s\n", None, 14, "a duration from 1m to 7 days"),
    ("COUNT = 2\nEXTENDS = bsae\n", None, 12, "no [desktops bsae] to extend (did you mean"),
])
def test_mistakes_name_file_line_section_and_key(tmp_path: Path, extra: str,
                                                 roster: str | None, line: int,
                                                 message: str) -> None:
    path = config(tmp_path, extra.replace("EXTENDS = bsae\n", ""), roster)
    if "bsae" in extra:
        path.write_text(path.read_text().replace("EXTENDS = base", "EXTENDS = bsae"))
    with pytest.raises(ConfigError) as caught:
        build(path)
    text = str(caught.value)
    assert f"{path}:{line}:" in text, text
    assert message in text, text


def test_jupyter_kinds_ports_and_idle_stop(tmp_path: Path) -> None:
    template = build(config(tmp_path, "COUNT = 2\nKIND = novnc ,jupyter\nJUPYTER_PORT = 8443\n"
                                      "IDLE_STOP = 1h30m\n"))
    assert template.kind == "novnc,jupyter" and template.jupyter_port == 8443
    assert template.idle_stop == 5400
    plain = build(config(tmp_path, "COUNT = 2\n"))
    assert plain.kind == "novnc" and plain.jupyter_port == 8888 and plain.idle_stop is None


def test_unknown_template_suggests_a_close_one(tmp_path: Path) -> None:
    path = config(tmp_path, "COUNT = 1\n")
    with pytest.raises(ConfigError, match="no \\[desktops corse\\] template \\(did you mean "
                                          "'course'\\?\\)"):
        build(path, "corse")


def test_validate_checks_desktops_templates_too(tmp_path: Path) -> None:
    from tests.conftest import run_sclust

    path = config(tmp_path, "COUNT = 2\n")
    result = run_sclust("-c", str(path), "validate")
    assert result.returncode == 0, result.stderr
    assert "course" in result.stdout and "base" not in result.stdout
    path.write_text(path.read_text().replace("COUNT = 2\n", ""))
    result = run_sclust("-c", str(path), "validate", "course")
    assert result.returncode == 1 and "give COUNT" in result.stderr


def test_the_local_demo_config_has_a_valid_course() -> None:
    from tests.conftest import REPO

    template = desktops_template(load_config(REPO / "configs" / "local.ini"), "course",
                                 check_key_file=False)
    assert template.count == 3


def test_a_roster_exported_with_semicolons_is_read(tmp_path: Path) -> None:
    path = config(tmp_path, "STUDENTS = students.csv\n",
                  roster="Nombre;Correo\nAna López;ana@x.org\nLuis;luis@x.org\n")
    template = build(path)
    assert [(s.name, s.email) for s in template.students] == [("Ana López", "ana@x.org"),
                                                              ("Luis", "luis@x.org")]


def test_a_roster_that_is_not_utf8_names_file_and_line(tmp_path: Path) -> None:
    path = config(tmp_path, "STUDENTS = students.csv\n")
    (tmp_path / "students.csv").write_bytes("Ana L\u00f3pez,ana@x.org\n".encode("latin-1"))
    with pytest.raises(ConfigError) as caught:
        build(path)
    assert f"{path}:13: [desktops course] STUDENTS: roster" in str(caught.value)
    assert "is not UTF-8 text" in str(caught.value)

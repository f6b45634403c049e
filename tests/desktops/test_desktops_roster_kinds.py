"""The roster of a course whose desktops serve noVNC and JupyterLab: the students' page links
each kind (no password, no token), the instructor's sheet holds both, `list --json` both URLs."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from sclust.desktops.kinds.jupyter import JUPYTER
from sclust.desktops.kinds.novnc import NOVNC
from sclust.desktops.passwords import PasswordStore
from sclust.desktops.roster import roster_csv, roster_html, rows
from sclust.desktops.state import Course, CourseSettings, Desktop


def course(kind: str) -> Course:
    settings = CourseSettings(template="lab", keyname="k", image_id="ami-1",
                              instance_type="t3.medium", kind=kind, jupyter_port=8443)
    desktops = [Desktop(n, f"i-{n}", "running", f"Student <{n}>", "t3.medium",
                        f"198.51.100.{n}", f"10.0.0.{n}", None, True) for n in (1, 2)]
    return Course("lab", "sg-1", settings, desktops)


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> PasswordStore:
    monkeypatch.setenv("SCLUST_HOME", str(tmp_path))
    passwords = PasswordStore.load("r", "lab")
    for n in (1, 2):
        passwords.for_desktop(f"{n:02d}", f"i-{n}", [NOVNC, JUPYTER])
    return passwords


def test_both_kinds_on_the_page_and_the_sheet(store: PasswordStore) -> None:
    both = course("novnc,jupyter")
    page = roster_html(both)
    assert '<a class="novnc" href="https://198.51.100.1/vnc.html">' in page
    assert '<a class="jupyter" href="https://198.51.100.2:8443/lab">' in page
    assert "Student &lt;1&gt;" in page and "password or token" in page
    secrets = [c for e in store.entries.values() for c in e.credentials.values()]
    assert len(set(secrets)) == 4 and not any(s in page for s in secrets)
    text, unknown = roster_csv(both, store)
    sheet = list(csv.DictReader(io.StringIO(text)))
    assert unknown == []
    assert sheet[0]["url"] == "https://198.51.100.1/vnc.html"
    assert sheet[0]["password"] == store.entries["01"].credentials["novnc"]
    assert sheet[1]["jupyter_url"] == "https://198.51.100.2:8443/lab"
    assert sheet[1]["jupyter_token"] == store.entries["02"].credentials["jupyter"]
    listed = rows(both, None)
    assert listed[0]["urls"] == {"novnc": "https://198.51.100.1/vnc.html",
                                 "jupyter": "https://198.51.100.1:8443/lab"}


def test_a_jupyter_only_course_puts_the_token_in_the_password_column(
        store: PasswordStore) -> None:
    only = course("jupyter")
    text, _ = roster_csv(only, store)
    sheet = list(csv.DictReader(io.StringIO(text)))
    assert list(sheet[0]) == ["number", "student", "email", "address", "url", "password"]
    assert sheet[0]["url"] == "https://198.51.100.1:8443/lab"
    assert sheet[0]["password"] == store.entries["01"].credentials["jupyter"]
    assert "<th>JupyterLab</th>" in roster_html(only) and "noVNC" not in roster_html(only)


def test_a_desktop_missing_a_kinds_credential_is_reported_unknown(store: PasswordStore) -> None:
    del store.entries["02"].credentials["jupyter"]
    _, unknown = roster_csv(course("novnc,jupyter"), store)
    assert unknown == ["02"]

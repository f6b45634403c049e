"""Jupyter desktops on the local cloud, as a course uses them: `KIND = novnc, jupyter` gives
each desktop JupyterLab over HTTPS beside noVNC, each with its own token (in the instructor's
sheet; never in tags, the students' page or a command line). The right token opens JupyterLab,
another desktop's is refused. Each desktop shows its number (wallpaper, taskbar, prompt).
Then a student's view in headless Chromium (selenium with Debian's chromium-driver): from the
roster page into noVNC with that desktop's password and into JupyterLab with its token,
screenshots kept under the test's tmp dir; another student's password is refused."""

from __future__ import annotations

import csv
import io
import json
import ssl
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from desktops_helpers import course_config, wait_session, wait_until

from tests.conftest import run_sclust

JUPYTER_PORT = 8443


@pytest.fixture(scope="module")
def course(local_cloud, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    cloud = local_cloud
    tmp = tmp_path_factory.mktemp("jupyter-course")
    config = course_config(cloud, tmp, "lab", 2,
                           f"KIND = novnc, jupyter\nJUPYTER_PORT = {JUPYTER_PORT}\n")
    # The course's own SCLUST_HOME (passwords, host keys): each test has its own otherwise.
    ctx = {"config": config, "env": {"SCLUST_LOCAL_DIR": str(cloud.state_dir),
                                     "SCLUST_HOME": str(tmp / "sclust-home")},
           "cloud": cloud, "tmp": tmp}
    began = time.monotonic()
    sclust(ctx, "desktops", "start", "lab")
    ctx["start_seconds"] = time.monotonic() - began
    yield ctx
    run_sclust("-c", str(config), "desktops", "terminate", "lab", "--yes", env=ctx["env"],
               timeout=300)


def sclust(ctx: dict, *args: str, ok: bool = True):
    result = run_sclust("-c", str(ctx["config"]), *args, env=ctx["env"], timeout=300)
    if ok:
        assert result.returncode == 0, f"sclust {' '.join(args)}:\n{result.stderr}"
    return result


def sheet(ctx: dict) -> list[dict[str, str]]:
    path = ctx["tmp"] / "sheet.csv"
    sclust(ctx, "desktops", "roster", "lab", "--csv", str(path))
    return list(csv.DictReader(io.StringIO(path.read_text())))


def jupyter_api(url: str, token: str | None) -> int:
    """The status of a GET of JupyterLab's contents API with TOKEN (self-signed certificate)."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    request = urllib.request.Request(url)
    if token is not None:
        request.add_header("Authorization", f"token {token}")
    try:
        with urllib.request.urlopen(request, context=context, timeout=10) as answer:
            return answer.status
    except urllib.error.HTTPError as error:
        return error.code


def test_each_desktop_serves_jupyterlab_opened_by_its_own_token(course) -> None:
    print(f"\nsclust desktops start (2 desktops, noVNC + JupyterLab answering): "
          f"{course['start_seconds']:.1f} s")
    listed = json.loads(sclust(course, "desktops", "list", "lab", "--json").stdout)
    assert [d["number"] for d in listed] == ["01", "02"]
    for desktop in listed:
        address = desktop["address"]
        assert desktop["urls"] == {"novnc": f"https://{address}/vnc.html",
                                   "jupyter": f"https://{address}:{JUPYTER_PORT}/lab"}
    table = sclust(course, "desktops", "list", "lab").stdout
    assert f":{JUPYTER_PORT}/lab" in table and "/vnc.html" in table

    rows = sheet(course)
    assert list(rows[0]) == ["number", "student", "email", "address", "url", "password",
                             "jupyter_url", "jupyter_token"]
    tokens = {r["number"]: r["jupyter_token"] for r in rows}
    passwords = {r["number"]: r["password"] for r in rows}
    assert len(set(tokens.values())) == 2 and all(len(t) == 20 for t in tokens.values())
    page = course["tmp"] / "roster.html"
    sclust(course, "desktops", "roster", "lab", "--html", str(page))
    text = page.read_text()
    assert all(r["jupyter_url"] in text and r["url"] in text for r in rows)
    secrets = [*tokens.values(), *passwords.values()]
    assert not any(s in text for s in secrets)

    # Never in tags (instances, addresses, the group).
    ec2 = course["cloud"].ec2
    tags = json.dumps([ec2.describe_instances(), ec2.describe_addresses(),
                       ec2.describe_security_groups()], default=str)
    assert not any(s in tags for s in secrets)

    # JupyterLab answers its own token only.
    for i, desktop in enumerate(listed):
        api = f"https://{desktop['address']}:{JUPYTER_PORT}/api/contents"
        other = tokens[listed[1 - i]["number"]]
        assert jupyter_api(api, tokens[desktop["number"]]) == 200
        assert jupyter_api(api, other) == 403
        assert jupyter_api(api, None) == 403
        # noVNC beside it, with its own password.
        with wait_session(desktop["address"], 443, passwords[desktop["number"]]) as session:
            assert session.desktop_name == f"lab-{desktop['number']}"

    # The token is on no command line and only readable by root and the student.
    shown = sclust(course, "desktops", "run", "lab", "--sudo",
                   "test \"$(stat -c '%a %U:%G' /etc/sclust-desktop/jupyter-token)\" = "
                   "'640 root:student' && pgrep -f jupyter-lab >/dev/null"
                   " && ! ps -eo args | grep -F -f /etc/sclust-desktop/jupyter-token")
    assert "2/2 succeeded" in shown.stdout, shown.stdout

    # Each desktop's number: in the student's shell prompt, on the wallpaper and taskbar.
    files = sclust(course, "desktops", "run", "lab", "-n", "2", "--sudo",
                   "grep -qx 02 /etc/sclust-desktop/label && grep -qx 'WorkspaceNames=\"02\"' "
                   "/etc/X11/icewm/prefoverride && head -c 4 /etc/sclust-desktop/wallpaper.png"
                   " | grep -q PNG && grep -q prompt.sh ~student/.bashrc && su - student -c "
                   "'bash -ic \"echo \\$PS1\"' 2>/dev/null | grep -q 'desktop 02'")
    assert "1/1 succeeded" in files.stdout, files.stdout


# ---- the student's browser ------------------------------------------------------------------



def novnc_login(driver, url: str, password: str) -> str:
    """Open noVNC at URL, connect, type PASSWORD: "connected" or the status shown."""
    from selenium.webdriver.common.by import By

    driver.get(url)
    wait_until(lambda: driver.find_element(By.ID, "noVNC_connect_button").is_displayed(),
               what="noVNC's connect button")
    driver.find_element(By.ID, "noVNC_connect_button").click()
    field = wait_until(lambda: (lambda e: e if e.is_displayed() else None)(
        driver.find_element(By.ID, "noVNC_password_input")), what="the password field")
    field.send_keys(password)
    driver.find_element(By.ID, "noVNC_credentials_button").click()

    def outcome() -> str | None:
        if driver.execute_script(
                "return document.documentElement.classList.contains('noVNC_connected')"):
            return "connected"
        status = driver.find_element(By.ID, "noVNC_status").text
        return status if "rejected" in status or "failed" in status.lower() else None

    return wait_until(outcome, what="noVNC to connect or refuse")


def wallpaper_pixels(driver) -> int:
    """Pixels of the number's colour on noVNC's canvas, when its corner has the wallpaper's
    background colour (0 before the session paints it); near colours count (VNC may send the
    screen as JPEG)."""
    from sclust.desktops.wallpaper import BACKGROUND, FOREGROUND

    return driver.execute_script("""
        const [back, fore] = arguments;
        const near = (d, i, c) => Math.abs(d[i] - c[0]) + Math.abs(d[i + 1] - c[1])
                                  + Math.abs(d[i + 2] - c[2]) < 40;
        const canvas = document.querySelector('#noVNC_container canvas');
        if (!canvas || canvas.width < 100) return 0;
        const context = canvas.getContext('2d');
        const corner = context.getImageData(20, 20, 1, 1).data;
        if (!near(corner, 0, back)) return 0;
        const data = context.getImageData(0, 0, canvas.width, canvas.height).data;
        let count = 0;
        for (let i = 0; i < data.length; i += 4) {
          if (near(data, i, fore)) count++;
        }
        return count;""", list(BACKGROUND), list(FOREGROUND))


def test_a_student_opens_their_desktop_from_the_roster_in_chromium(course, browser,
                                                                   tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By

    rows = {r["number"]: r for r in sheet(course)}
    page = course["tmp"] / "roster.html"
    sclust(course, "desktops", "roster", "lab", "--html", str(page))
    browser.get(page.as_uri())
    links = browser.find_elements(By.CSS_SELECTOR, "#desktop-01 a")
    assert [a.get_attribute("class") for a in links] == ["novnc", "jupyter"]
    novnc_url, jupyter_url = (a.get_attribute("href") for a in links)
    assert novnc_url == rows["01"]["url"] and jupyter_url == rows["01"]["jupyter_url"]

    # noVNC: another student's password is refused, the student's own opens the desktop.
    assert "rejected" in novnc_login(browser, novnc_url, rows["02"]["password"])
    browser.save_screenshot(str(tmp_path / "novnc-refused.png"))
    assert novnc_login(browser, novnc_url, rows["01"]["password"]) == "connected"
    # The desktop's number is its wallpaper: its colours fill the screen, its figures lie in
    # the middle (read from noVNC's canvas once the session has painted it).
    wait_until(lambda: wallpaper_pixels(browser) > 2000, timeout=60,
               what="the numbered wallpaper on the screen")
    browser.save_screenshot(str(tmp_path / "novnc-desktop-01.png"))
    assert "lab-01" in browser.title

    # JupyterLab: another desktop's token is refused on the login page, its own opens it.
    for token, expected in ((rows["02"]["jupyter_token"], False),
                            (rows["01"]["jupyter_token"], True)):
        browser.get(jupyter_url)
        field = wait_until(lambda: browser.find_elements(By.ID, "password_input"),
                           what="JupyterLab's login page")[0]
        field.send_keys(token)
        browser.find_element(By.ID, "login_submit").click()
        if expected:
            wait_until(lambda: browser.find_elements(By.CSS_SELECTOR, ".jp-Launcher"),
                       timeout=90, what="JupyterLab's launcher")
            time.sleep(2)
            browser.save_screenshot(str(tmp_path / "jupyterlab-01.png"))
            assert "/lab" in browser.current_url
        else:
            wait_until(lambda: "/login" in browser.current_url
                       and browser.find_elements(By.ID, "password_input"),
                       what="the login page again")
            assert not browser.find_elements(By.CSS_SELECTOR, ".jp-Launcher")
            browser.save_screenshot(str(tmp_path / "jupyterlab-refused.png"))
    print(f"\nscreenshots: {tmp_path}")
    for name in ("novnc-desktop-01.png", "jupyterlab-01.png", "novnc-refused.png"):
        assert (tmp_path / name).stat().st_size > 10_000

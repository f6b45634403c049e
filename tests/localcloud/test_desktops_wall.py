"""The instructor's wall on the local cloud: two real desktops (one stopped), `desktops wall`
takes the running one's screen view-only through noVNC and writes one page; headless Chromium
opens it and finds a real screenshot of that desktop (its numbered wallpaper's colour, many
colours, the thumbnail's size), the stopped one shown as stopped, and the student's name as
text, not markup. `--watch` rewrites the page, which reloads itself."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
from pathlib import Path

from desktops_helpers import course_config, wait_until

from sclust.desktops.wallpaper import BACKGROUND
from tests.conftest import REPO, run_sclust

HOSTILE = '<b>Ana & "Bo"</b>'

# Every colour of the thumbnail of desktop NUMBER, through a canvas (as the browser decoded it).
COLOURS = """
const img = document.querySelector('#desktop-' + arguments[0] + ' img');
const canvas = document.createElement('canvas');
canvas.width = img.naturalWidth; canvas.height = img.naturalHeight;
const context = canvas.getContext('2d');
context.drawImage(img, 0, 0);
const data = context.getImageData(0, 0, canvas.width, canvas.height).data;
const seen = new Set();
for (let i = 0; i < data.length; i += 4) seen.add(data[i] + ',' + data[i + 1] + ',' + data[i + 2]);
return {width: img.naturalWidth, height: img.naturalHeight, colours: Array.from(seen)};
"""


def test_the_wall_shows_every_screen_view_only_in_chromium(cloud, tmp_path: Path,
                                                           browser) -> None:
    from selenium.webdriver.common.by import By

    quoted = '"' + HOSTILE.replace('"', '""') + '"'  # CSV quoting
    (tmp_path / "students.csv").write_text(
        f"name,email\n{quoted},ana@example.org\nCarla,carla@example.org\n")
    config = course_config(cloud, tmp_path, "wall", 2, "STUDENTS = students.csv\n")
    env = {"SCLUST_LOCAL_DIR": str(cloud.state_dir), "SCLUST_HOME": str(tmp_path / "home")}

    def sclust(*args: str) -> subprocess.CompletedProcess[str]:
        result = run_sclust("-c", str(config), *args, env=env, timeout=300)
        assert result.returncode == 0, f"sclust {' '.join(args)}:\n{result.stderr}"
        return result

    try:
        sclust("desktops", "start", "wall")
        sclust("desktops", "stop", "wall", "2", "--yes")
        page = tmp_path / "wall.html"
        result = sclust("desktops", "wall", "wall", "--html", str(page))
        assert "1 of 2 screen(s)" in result.stdout
        assert "1/1 screens" in result.stderr  # the progress while collecting
        assert page.stat().st_mode & 0o077 == 0

        browser.get(page.as_uri())
        wait_until(lambda: browser.execute_script(
            "const i = document.querySelector('#desktop-01 img'); return i && i.complete"),
            what="the thumbnail")
        shot = browser.execute_script(COLOURS, "01")
        assert (shot["width"], shot["height"]) == (320, 180)  # 1600x900 scaled to 320
        colours = {tuple(int(c) for c in rgb.split(",")) for rgb in shot["colours"]}
        assert len(colours) > 10, "not a real screen: too few colours"
        # The desktop's own wallpaper (its number on its background colour) is on it.
        assert any(all(abs(a - b) <= 2 for a, b in zip(c, BACKGROUND, strict=True))
                   for c in colours)
        first = browser.find_element(By.ID, "desktop-01")
        assert first.get_attribute("data-state") == "running"
        assert HOSTILE in first.find_element(By.TAG_NAME, "figcaption").text
        assert len(first.find_elements(By.CSS_SELECTOR, "figcaption b")) == 1  # the number
        second = browser.find_element(By.ID, "desktop-02")
        assert second.get_attribute("data-state") == "stopped"
        assert second.find_elements(By.TAG_NAME, "img") == []
        assert "stopped" in second.text and "Carla" in second.text
        browser.save_screenshot(str(tmp_path / "wall.png"))
        print(f"\nwall page screenshot: {tmp_path / 'wall.png'}")

        # The thumbnail is the PNG sclust embedded (one file, nothing beside it).
        html = page.read_text()
        data = html.split('src="data:image/png;base64,', 1)[1].split('"', 1)[0]
        assert base64.b64decode(data).startswith(b"\x89PNG")

        # --watch: the page is taken again and reloads itself in the browser.
        page.unlink()
        watcher = subprocess.Popen(
            [sys.executable, "-m", "sclust.cli", "-c", str(config), "desktops", "wall",
             "wall", "--html", str(page), "--watch", "2"], cwd=REPO,
            env={**os.environ, **env}, stdout=subprocess.PIPE, text=True)
        try:
            lines = [watcher.stdout.readline() for _ in range(2)]  # type: ignore[union-attr]
        finally:
            watcher.terminate()
            watcher.wait(30)
        assert all("1 of 2 screen(s)" in line for line in lines), lines
        assert '<meta http-equiv="refresh" content="2">' in page.read_text()
    finally:
        run_sclust("-c", str(config), "desktops", "terminate", "wall", "--yes", env=env,
                   timeout=300)


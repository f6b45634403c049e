"""The instructor's wall: a page with a thumbnail of every student's screen, number, student
and state, so the instructor sees who is stuck without walking the room.

    shots = collect(course, passwords, port, width=320, progress=update)
    Path("wall.html").write_text(wall_html(course, shots, refresh=10))

Each screen is taken the way a student's browser reaches it (noVNC's websocket over HTTPS on
the desktop's address) with the desktop's view-only VNC password: TigerVNC ignores every key
and pointer event of such a session, and the client sends none. The page embeds the
thumbnails (PNG data URIs): one file, nothing beside it to leak or lose. Names and errors are
HTML-escaped; stopped desktops show as stopped, with no picture.
"""

from __future__ import annotations

import base64
import html
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sclust.desktops.passwords import PasswordStore
from sclust.desktops.png import rgb_png
from sclust.desktops.rfb import VncAuthFailed, open_session
from sclust.desktops.state import Course, Desktop
from sclust.desktops.vncauth import view_password
from sclust.errors import SclustError
from sclust.ssh import fan_out

THUMBNAIL_WIDTH = 320


@dataclass
class Shot:
    """One desktop's thumbnail, or why there is none."""

    desktop: Desktop
    png: bytes | None = None
    width: int = 0
    height: int = 0
    problem: str | None = None
    view_only: bool = True


def capture(address: str, port: int, password: str, width: int = THUMBNAIL_WIDTH,
            timeout: float = 15, full_password: bool = False) -> tuple[bytes, int, int, bool]:
    """(PNG, width, height, view-only?) of the screen of the desktop at ADDRESS:PORT. With
    FULL_PASSWORD, a desktop that refuses the view-only password (set up by an sclust without
    them) is shown with the student's own password, still sending no input; never by itself,
    since whoever answers instead of the desktop could then relay a full-control login."""
    from sclust.ssh import check_destination

    check_destination(address)  # only where sclust may go (never an address moto invents)
    view_only = True
    try:
        session = open_session(address, port, view_password(password), timeout=timeout)
    except VncAuthFailed:
        if not full_password:
            raise VncAuthFailed("the view-only password was refused (a desktop set up before "
                                "view-only passwords: `desktops start --new-passwords`, or "
                                "`wall --full-password`)") from None
        session = open_session(address, port, password, timeout=timeout)
        view_only = False
    with session:
        w, h, rgb = session.screenshot(width)
    return rgb_png(w, h, rgb, level=6), w, h, view_only


def collect(course: Course, passwords: PasswordStore, port: int,
            width: int = THUMBNAIL_WIDTH,
            progress: Callable[[str], None] | None = None,
            full_password: bool = False) -> list[Shot]:
    """A Shot of every desktop of COURSE (running ones in parallel), in number order."""
    shots = {d.name: Shot(d) for d in course.desktops}
    running = []
    for desktop in course.desktops:
        known = passwords.known(desktop.name, desktop.instance_id) or {}
        if desktop.state != "running":
            shots[desktop.name].problem = desktop.state
        elif not desktop.address:
            shots[desktop.name].problem = "no address"
        elif "novnc" not in known:
            shots[desktop.name].problem = f"no VNC password on this machine ({passwords.path})"
        else:
            running.append((desktop, known["novnc"]))
    done = 0
    lock = threading.Lock()

    def take(item: tuple[Desktop, str]) -> None:
        nonlocal done
        desktop, password = item
        shot = shots[desktop.name]
        try:
            shot.png, shot.width, shot.height, shot.view_only = capture(
                desktop.address or "", port, password, width, full_password=full_password)
        finally:
            with lock:
                done += 1
                if progress:
                    progress(f"{done}/{len(running)} screens")

    results = fan_out(running, take, name=lambda item: item[0].name)
    for name, result in results.items():
        if isinstance(result, BaseException):
            shots[name].problem = f"no screen: {result}"
    return [shots[d.name] for d in course.desktops]


def wall_html(course: Course, shots: list[Shot], refresh: float | None = None,
              taken: datetime | None = None) -> str:
    """The page: one card per desktop (number, student, state, thumbnail or why not)."""
    taken = taken or datetime.now().astimezone()
    cards = []
    for shot in shots:
        desktop = shot.desktop
        student = html.escape(desktop.student or "")
        if shot.png is not None:
            data = base64.b64encode(shot.png).decode()
            picture = (f'<img src="data:image/png;base64,{data}" width="{shot.width}" '
                       f'height="{shot.height}" alt="screen of desktop {desktop.name}">')
        else:
            picture = f'<div class="none">{html.escape(shot.problem or "")}</div>'
        note = "" if shot.view_only or shot.png is None else \
            '<span class="note" title="no view-only password: set up by an older sclust">' \
            " (full password)</span>"
        cards.append(
            f'<figure class="desktop {html.escape(desktop.state)}" id="desktop-{desktop.name}" '
            f'data-state="{html.escape(desktop.state)}">{picture}'
            f'<figcaption><b>{desktop.name}</b> {student} '
            f'<span class="state">{html.escape(desktop.state)}</span>{note}</figcaption>'
            "</figure>")
    title = html.escape(f"Wall of {course.name}")
    meta = f'<meta http-equiv="refresh" content="{refresh:g}">' if refresh else ""
    running = sum(s.png is not None for s in shots)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">{meta}<title>{title}</title>
<style>body{{font-family:sans-serif;margin:1em;background:#222;color:#eee}}
main{{display:flex;flex-wrap:wrap;gap:12px}}figure{{margin:0;background:#333;padding:6px}}
figure.stopped,figure.stopping{{opacity:.6}}img{{display:block}}
.none{{width:{THUMBNAIL_WIDTH}px;height:{THUMBNAIL_WIDTH * 9 // 16}px;display:flex;
align-items:center;justify-content:center;color:#aaa;text-align:center}}
.state{{color:#9c9}}.stopped .state,.stopping .state{{color:#c99}}</style></head>
<body><h1>{title}</h1>
<p>{running} of {len(shots)} screen(s), taken {taken:%Y-%m-%d %H:%M:%S %Z} (view-only)</p>
<main>
{chr(10).join(cards)}
</main></body></html>
"""


def novnc_port_of(course: Course) -> int:
    """The noVNC port of COURSE; an error when its desktops serve no noVNC."""
    from sclust.desktops.kinds import served_ports

    ports = {kind.name: port for kind, port in served_ports(course.require_settings())}
    if "novnc" not in ports:
        raise SclustError(f"desktops {course.name!r} serve no noVNC (KIND = "
                          f"{course.require_settings().kind}): no screens to show")
    return ports["novnc"]

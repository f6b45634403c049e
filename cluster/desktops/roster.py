"""Showing a course: the instructor's table and JSON, the students' page, the password sheet.

The HTML page carries numbers, names and links only; passwords go to the CSV sheet alone,
written with mode 0600.
"""

from __future__ import annotations

import csv
import html
import io
from datetime import datetime, timezone
from typing import Any

from sclust.desktops.cost import PriceTable, cost_so_far
from sclust.desktops.kinds import desktop_kind
from sclust.desktops.passwords import PasswordStore
from sclust.desktops.state import Course, CourseSettings, Desktop


def desktop_url(desktop: Desktop, settings: CourseSettings) -> str | None:
    """The student's page on DESKTOP, as the course's desktop kind serves it."""
    if not desktop.address:
        return None
    kind = desktop_kind(settings.kind)
    return kind.url(desktop.address, kind.port(settings))


def uptime(desktop: Desktop, now: datetime) -> str:
    if desktop.state != "running" or desktop.launch_time is None:
        return "-"
    seconds = int((now - desktop.launch_time).total_seconds())
    days, rest = divmod(max(seconds, 0), 86400)
    return f"{days}d {rest // 3600:02d}:{rest % 3600 // 60:02d}"


def rows(course: Course, prices: PriceTable | None) -> list[dict[str, Any]]:
    """One dict per desktop: what `list` shows and `list --json` prints."""
    settings = course.require_settings()
    now = datetime.now(timezone.utc)
    created = settings.created_at
    exists = (now - created).total_seconds() if created else 0.0
    found = []
    for desktop in course.desktops:
        cost = None
        if prices is not None:
            cost = cost_so_far(prices, desktop.instance_type, desktop.running_seconds(now),
                               exists, settings.volume_size, desktop.elastic_ip is not None)
        found.append({
            "number": desktop.name, "student": desktop.student, "address": desktop.address,
            "url": desktop_url(desktop, settings), "state": desktop.state,
            "instance_id": desktop.instance_id, "instance_type": desktop.instance_type,
            "elastic_ip": desktop.elastic_ip is not None, "private_ip": desktop.private_ip,
            "set_up": desktop.setup_done, "uptime": uptime(desktop, now),
            "running_hours": round(desktop.running_seconds(now) / 3600, 3),
            "cost_so_far": None if cost is None else round(cost, 4),
        })
    return found


def print_course(course: Course, prices: PriceTable | None) -> None:
    from rich.console import Console
    from rich.table import Table

    settings = course.require_settings()
    table = Table(title=f"desktops {course.name} — {settings.instance_type} · "
                        f"{settings.image_id} · {settings.zone}", title_justify="left")
    for column in ("#", "student", "address", "url", "state", "uptime", "cost so far"):
        table.add_column(column, justify="right" if column == "cost so far" else "left")
    listed = rows(course, prices)
    for row in listed:
        cost = "?" if row["cost_so_far"] is None else f"${row['cost_so_far']:,.2f}"
        table.add_row(row["number"], row["student"] or "-", row["address"] or "-",
                      row["url"] or "-", row["state"], row["uptime"], cost)
    known = [r["cost_so_far"] for r in listed if r["cost_so_far"] is not None]
    caption = f"{len(listed)} desktop(s); {len(course.addresses)} Elastic IP(s)"
    if known:
        caption += f"; so far ≈ ${sum(known):,.2f}"
    if prices is not None:
        caption += f" ({prices.label})"
    table.caption = caption
    Console(width=160).print(table)


def roster_html(course: Course) -> str:
    """The page students open: their number, name and desktop link. No passwords."""
    settings = course.require_settings()
    items = []
    for desktop in course.desktops:
        url = desktop_url(desktop, settings)
        link = (f'<a href="{html.escape(url)}">{html.escape(url)}</a>' if url
                else "(no address yet)")
        items.append(f"<tr><td>{desktop.name}</td><td>{html.escape(desktop.student or '')}"
                     f"</td><td>{link}</td></tr>")
    title = html.escape(f"Desktops of {course.name}")
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>body{{font-family:sans-serif;margin:2em}}td,th{{padding:.3em 1em;text-align:left}}
tr:nth-child(even){{background:#f2f2f2}}</style></head>
<body><h1>{title}</h1>
<p>Open the link of your desktop number. Your browser will warn about the certificate (each
desktop makes its own): accept it, then type the password you were given.</p>
<table><tr><th>#</th><th>student</th><th>desktop</th></tr>
{chr(10).join(items)}
</table></body></html>
"""


def roster_csv(course: Course, passwords: PasswordStore) -> tuple[str, list[str]]:
    """The instructor's sheet (with passwords) and the desktops whose password is unknown."""
    settings = course.require_settings()
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["number", "student", "email", "address", "url", "password"])
    unknown = []
    for desktop in course.desktops:
        entry = passwords.entries.get(desktop.name)
        password = passwords.known(desktop.name, desktop.instance_id)
        if password is None:
            unknown.append(desktop.name)
        writer.writerow([desktop.name, desktop.student or "", (entry.email if entry else "")
                         or "", desktop.address or "",
                         desktop_url(desktop, settings) or "", password or ""])
    return out.getvalue(), unknown

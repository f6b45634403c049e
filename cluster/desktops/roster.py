"""Showing a course: the instructor's table and JSON, the students' page, the password sheet.

The HTML page carries numbers, names and links only (one per kind a desktop serves: noVNC,
JupyterLab); passwords and tokens go to the CSV sheet alone, written with mode 0600.
"""

from __future__ import annotations

import csv
import html
import io
from datetime import datetime, timezone
from typing import Any

from sclust.desktops.cost import PriceTable, cost_so_far
from sclust.desktops.kinds import served_ports
from sclust.desktops.passwords import PasswordStore
from sclust.desktops.state import Course, CourseSettings, Desktop


def desktop_urls(desktop: Desktop, settings: CourseSettings) -> dict[str, str]:
    """The student's pages on DESKTOP by kind name, in KIND's order (none without address)."""
    if not desktop.address:
        return {}
    return {kind.name: kind.url(desktop.address, port) for kind, port in served_ports(settings)}


def desktop_url(desktop: Desktop, settings: CourseSettings) -> str | None:
    """The student's page of the course's first kind on DESKTOP."""
    return next(iter(desktop_urls(desktop, settings).values()), None)


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
            "url": desktop_url(desktop, settings), "urls": desktop_urls(desktop, settings),
            "state": desktop.state,
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
                      "\n".join(row["urls"].values()) or "-", row["state"], row["uptime"], cost)
    known = [r["cost_so_far"] for r in listed if r["cost_so_far"] is not None]
    caption = f"{len(listed)} desktop(s); {len(course.addresses)} Elastic IP(s)"
    if known:
        caption += f"; so far ≈ ${sum(known):,.2f}"
    if prices is not None:
        caption += f" ({prices.label})"
    table.caption = caption
    Console(width=160).print(table)


def roster_html(course: Course) -> str:
    """The page students open: their number, name and a link per kind their desktop serves
    (noVNC, JupyterLab). No passwords, no tokens."""
    settings = course.require_settings()
    served = served_ports(settings)
    items = []
    for desktop in course.desktops:
        urls = desktop_urls(desktop, settings)
        cells = "".join(
            f'<td><a class="{kind.name}" href="{html.escape(urls[kind.name])}">'
            f"{html.escape(urls[kind.name])}</a></td>" if kind.name in urls
            else "<td>(no address yet)</td>" for kind, _ in served)
        items.append(f'<tr id="desktop-{desktop.name}"><td>{desktop.name}</td>'
                     f"<td>{html.escape(desktop.student or '')}</td>{cells}</tr>")
    headers = "".join(f"<th>{html.escape(kind.title)}</th>" for kind, _ in served)
    asked = " or ".join(sorted({kind.credential_name for kind, _ in served}))
    title = html.escape(f"Desktops of {course.name}")
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>body{{font-family:sans-serif;margin:2em}}td,th{{padding:.3em 1em;text-align:left}}
tr:nth-child(even){{background:#f2f2f2}}</style></head>
<body><h1>{title}</h1>
<p>Open the link of your desktop number. Your browser will warn about the certificate (each
desktop makes its own): accept it, then type the {asked} you were given for it.</p>
<table><tr><th>#</th><th>student</th>{headers}</tr>
{chr(10).join(items)}
</table></body></html>
"""


def roster_csv(course: Course, passwords: PasswordStore) -> tuple[str, list[str]]:
    """The instructor's sheet (with credentials) and the desktops whose credentials are
    unknown. The first kind's page and credential are `url` and `password` (the sheet's
    columns before kinds); each further kind adds KIND_url and KIND_CREDENTIAL
    (`jupyter_url`, `jupyter_token`)."""
    settings = course.require_settings()
    served = served_ports(settings)
    out = io.StringIO()
    writer = csv.writer(out)
    columns = ["url", "password"]
    for kind, _ in served[1:]:
        columns += [f"{kind.name}_url", f"{kind.name}_{kind.credential_name}"]
    writer.writerow(["number", "student", "email", "address", *columns])
    unknown = []
    for desktop in course.desktops:
        entry = passwords.entries.get(desktop.name)
        known = passwords.known(desktop.name, desktop.instance_id) or {}
        if any(kind.name not in known for kind, _ in served):
            unknown.append(desktop.name)
        urls = desktop_urls(desktop, settings)
        cells = []
        for kind, _ in served:
            cells += [urls.get(kind.name, ""), known.get(kind.name, "")]
        writer.writerow([desktop.name, desktop.student or "", (entry.email if entry else "")
                         or "", desktop.address or "", *cells])
    return out.getvalue(), unknown

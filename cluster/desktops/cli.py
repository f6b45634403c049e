"""`sclust desktops …` and `sclust cost`: parse, call one operation, print.

Only click is imported here at start-up (the operations import boto3, paramiko and rich).
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import click

from sclust.context import COURSE_NAME, TEMPLATE_NAME, FiniteFloat

if TYPE_CHECKING:
    from sclust.context import AppContext
    from sclust.desktops.cost import PriceTable
    from sclust.desktops.course import Desktops
    from sclust.desktops.template import DesktopsTemplate

NUMBERS_HELP = "Desktop numbers: 3, 1,4, 2-5 (default: all)."


def desktops_of(app: AppContext) -> Desktops:
    from sclust.connect import open_cloud, open_schedules
    from sclust.desktops.course import Desktops
    from sclust.progress import Progress

    config = app.config
    cloud = open_cloud(config, app.region)
    desktops = Desktops(cloud, Progress(),
                        key_file=lambda name: config.key_pair(name).location,
                        refresh_interval=config.refresh_interval,
                        schedules=open_schedules(cloud), prices=prices_or_none(app))
    app.plugin_sources.append(desktops)  # its plugin outcomes are reported after the command
    return desktops


def template_of(app: AppContext, name: str, check_key_file: bool = True) -> DesktopsTemplate:
    from sclust.desktops.template import desktops_template

    return desktops_template(app.config, name, check_key_file)


def numbers_of(values: tuple[str, ...]) -> list[int] | None:
    from sclust.desktops.state import parse_numbers

    return parse_numbers(",".join(values)) if values else None


@click.group()
def desktops() -> None:
    """Per-student desktops: one EC2 instance each, reached in the browser (noVNC and/or
    JupyterLab over HTTPS, KIND) at its own Elastic IP, with its own random password or token.

    \b
    A course is a [desktops NAME] template (IMAGE_ID, INSTANCE_TYPE, KEYNAME, COUNT or a
    STUDENTS roster CSV, AUTO_STOP…). Typical day:
      sclust desktops start course          launch, address, set up; prints the table
      sclust desktops roster course --html students.html --csv sheet.csv
      sclust desktops run course 'sudo apt-get install -y tool'
      sclust desktops stop course           overnight (AUTO_STOP also does it); same
      sclust desktops start course          addresses the next morning
      sclust desktops terminate course      the end: instances and Elastic IPs released
    Passwords and tokens stay on this machine ($SCLUST_HOME/desktops/REGION/NAME.json, 0600).
    """


@desktops.command("start")
@click.argument("name", type=COURSE_NAME)
@click.argument("numbers", nargs=-1)
@click.option("-t", "--template", "template_name", metavar="TEMPLATE",
              help="[desktops TEMPLATE] to use (default: NAME).")
@click.option("--no-setup", is_flag=True,
              help="Only the EC2 side (instances, Elastic IPs): no setup over SSH.")
@click.option("--new-passwords", is_flag=True,
              help="Give the desktops new passwords (e.g. on a second instructor machine).")
@click.pass_obj
def start_command(app: AppContext, name: str, numbers: tuple[str, ...], template_name: str | None,
                  no_setup: bool, new_passwords: bool) -> None:
    """Start course NAME: launch what is missing, start what is stopped, give each desktop its
    Elastic IP and set it up; then wait until each answers. Re-running fills in what is
    missing and leaves the rest alone.

    Before launching, the region's Elastic IP quota is checked (default 5 per region).
    """
    from sclust.desktops.roster import print_course

    template = template_of(app, template_name or name)
    course = desktops_of(app).start(name, template, numbers_of(numbers), setup=not no_setup,
                                    new_passwords=new_passwords)
    print_course(course, prices_or_none(app))
    click.echo(f"students' page: sclust desktops roster {name} --html FILE; "
               f"passwords: --csv FILE")


def prices_or_none(app: AppContext) -> PriceTable | None:
    """The price table for the cost column; a broken [prices] only blanks that column."""
    from sclust.desktops.cost import load_prices
    from sclust.errors import SclustError

    try:
        return load_prices(app.config)
    except SclustError:
        return None


@desktops.command("list")
@click.argument("name", type=COURSE_NAME)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list instead of a table.")
@click.pass_obj
def list_command(app: AppContext, name: str, as_json: bool) -> None:
    """List the desktops of NAME: number, student, address, URL, state, uptime, cost so far.

    Cost so far: running hours (counted across stops) × the hourly price, plus the root
    volume and the Elastic IP since the course was created, from the price table.
    """
    from sclust.desktops.roster import print_course, rows

    course = desktops_of(app).get(name)
    prices = prices_or_none(app)
    if as_json:
        import json

        click.echo(json.dumps(rows(course, prices), indent=2))
        return
    print_course(course, prices)
    echo_budget(course, prices)


def echo_budget(course: object, prices: PriceTable | None) -> None:
    """Spend so far, the projection to the end of the calendar, the budget's warning."""
    from sclust.desktops.budget import budget_view
    from sclust.desktops.state import Course
    from sclust.errors import SclustError

    assert isinstance(course, Course)
    if prices is None or not course.desktops:
        return
    try:
        view = budget_view(course, prices)
    except SclustError as error:  # e.g. an instance type the table lacks
        click.echo(f"sclust: warning: no projection: {error}", err=True)
        return
    line = (f"spent ${view.spent:,.2f}; projected ${view.projected:,.2f} by "
            f"{view.horizon:%Y-%m-%d %H:%M %Z}")
    if view.budget is not None:
        line += f" (budget ${view.budget:,.2f}, {view.fraction:.0%} spent"
        if view.cap_at is not None:
            line += f"; reached {view.cap_at:%Y-%m-%d %H:%M %Z}"
        line += ")"
    click.echo(line)
    if view.warning:
        click.echo(f"sclust: warning: desktops {course.name}: {view.warning}", err=True)


@desktops.command("budget")
@click.argument("name", type=COURSE_NAME)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a line.")
@click.pass_obj
def budget_command(app: AppContext, name: str, as_json: bool) -> None:
    """Spend so far of NAME, its projection to the end of the calendar (SCHEDULE_END, else
    this week's last class; without SCHEDULE: today's AUTO_STOP), BUDGET and when the
    projection reaches it. Warns from 80 % of the budget."""
    from sclust.desktops.budget import budget_view
    from sclust.desktops.cost import load_prices

    course = desktops_of(app).get(name)
    prices = load_prices(app.config)
    if as_json:
        import json

        click.echo(json.dumps(budget_view(course, prices).to_json(), indent=2))
        return
    echo_budget(course, prices)


@desktops.group("schedule")
def schedule_group() -> None:
    """A course's calendar in the cloud: EventBridge Scheduler schedules (made by `desktops
    start` from SCHEDULE, TIMEZONE, SCHEDULE_LEAD, SCHEDULE_END and BUDGET_ACTION = stop)
    that start and stop the desktops with no machine of yours on."""


@schedule_group.command("list")
@click.argument("name", type=COURSE_NAME)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list instead of a table.")
@click.pass_obj
def schedule_list(app: AppContext, name: str, as_json: bool) -> None:
    """The schedules of course NAME as the scheduler has them."""
    manager = desktops_of(app)
    if manager.schedules is None:
        from sclust.errors import SclustError

        raise SclustError("this cloud has no scheduler")
    found = manager.schedules.list(name)
    if as_json:
        import json

        click.echo(json.dumps([{
            "name": s.name, "action": s.action, "expression": s.expression,
            "timezone": s.zone, "state": s.state, "desktops": len(s.instance_ids),
            "end": s.end.isoformat() if s.end else None, "description": s.why}
            for s in found], indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"schedules of desktops {name}", title_justify="left")
    for column in ("name", "action", "when", "zone", "desktops", "until", "state"):
        table.add_column(column)
    for s in found:
        table.add_row(s.name, s.action, s.expression, s.zone, str(len(s.instance_ids)),
                      f"{s.end:%Y-%m-%d %H:%M}" if s.end else "-", s.state)
    table.caption = f"{len(found)} schedule(s)"
    Console(width=160).print(table)


@schedule_group.command("apply")
@click.argument("name", type=COURSE_NAME)
@click.option("-t", "--template", "template_name", metavar="TEMPLATE",
              help="[desktops TEMPLATE] whose SCHEDULE/BUDGET to use (default: the course's).")
@click.pass_obj
def schedule_apply(app: AppContext, name: str, template_name: str | None) -> None:
    """Make NAME's schedules what its template says now (e.g. after editing SCHEDULE or
    BUDGET), with no start of the desktops; the budget's stop is computed again."""
    manager = desktops_of(app)
    course = manager.get(name)
    settings = course.require_settings()
    template = template_of(app, template_name or settings.template, check_key_file=False)
    manager.update_calendar(course, template)
    planned = manager.apply_schedules(course)
    click.echo(f"desktops {name!r}: {len(planned)} schedule(s)")


@schedule_group.command("remove")
@click.argument("name", type=COURSE_NAME)
@click.option("-y", "--yes", is_flag=True, help="Do not ask for confirmation.")
@click.pass_obj
def schedule_remove(app: AppContext, name: str, yes: bool) -> None:
    """Delete NAME's schedules (and the role they used): the desktops stay as they are and
    start/stop only by hand (and AUTO_STOP) until `schedule apply`."""
    from sclust.context import confirm

    confirm(f"Delete the schedules of {name!r}?", yes)
    manager = desktops_of(app)
    if manager.schedules is None:
        from sclust.errors import SclustError

        raise SclustError("this cloud has no scheduler")
    click.echo(f"deleted {manager.schedules.remove(name)} schedule(s) of {name!r}")


@desktops.command("roster")
@click.argument("name", type=COURSE_NAME)
@click.option("--html", "html_file", type=click.Path(dir_okay=False),
              help="Write the students' page: number, name, a link per kind (no passwords).")
@click.option("--csv", "csv_file", type=click.Path(dir_okay=False),
              help="Write the instructor's sheet with passwords and tokens (mode 0600).")
@click.pass_obj
def roster_command(app: AppContext, name: str, html_file: str | None,
                   csv_file: str | None) -> None:
    """Write the roster of NAME: a page for the students and/or a sheet for the instructor."""
    from pathlib import Path

    from sclust.desktops.roster import roster_csv, roster_html
    from sclust.errors import SclustError
    from sclust.files import write_private

    if not html_file and not csv_file:
        raise SclustError("give --html FILE and/or --csv FILE")
    manager = desktops_of(app)
    course = manager.get(name)
    if html_file:
        Path(html_file).write_text(roster_html(course))
        click.echo(f"wrote {html_file} ({len(course.desktops)} desktop(s); no passwords)")
    if csv_file:
        text, unknown = roster_csv(course, manager.passwords(name))
        write_private(Path(csv_file), text)
        click.echo(f"wrote {csv_file} (mode 0600, with passwords)")
        if unknown:
            click.echo(f"sclust: warning: no password on this machine for {', '.join(unknown)}"
                       f" ({manager.passwords(name).path}): copy it from the machine that "
                       f"started the course, or `sclust desktops start {name} --new-passwords`",
                       err=True)


@desktops.command("wall")
@click.argument("name", type=COURSE_NAME)
@click.option("--html", "html_file", type=click.Path(dir_okay=False), required=True,
              help="Write the page here (thumbnails embedded: one file).")
@click.option("--watch", type=click.IntRange(min=2), is_flag=False, flag_value=10,
              default=None, metavar="[SECONDS]",
              help="Take the screens again every SECONDS (default 10) until Ctrl-C; the page "
                   "reloads itself as often.")
@click.option("--width", type=click.IntRange(80, 1600), default=320, show_default=True,
              help="Width of each thumbnail in pixels.")
@click.option("--full-password", is_flag=True,
              help="For desktops set up before view-only passwords: log in with the "
                   "student's own password (still sending no input). Prefer `desktops start "
                   "--new-passwords`.")
@click.pass_obj
def wall_command(app: AppContext, name: str, html_file: str, watch: int | None,
                 width: int, full_password: bool) -> None:
    """The instructor's wall: a page with a thumbnail of every student's screen (number,
    student, state), taken view-only over VNC — no key or click ever reaches a desktop.

    \b
    Open the page in a browser; with --watch it refreshes itself:
      sclust desktops wall course --html wall.html --watch 15
    Needs the passwords on this machine (the view-only one is derived from each).
    """
    import time
    from pathlib import Path

    from sclust.desktops.wall import collect, novnc_port_of, wall_html
    from sclust.files import write_private

    manager = desktops_of(app)
    while True:
        course = manager.get(name)
        port = novnc_port_of(course)
        with manager.progress.waiting(f"taking the screens of {name}") as update:
            shots = collect(course, manager.passwords(name), port, width, update,
                            full_password=full_password)
        # 0600: the page shows what students are doing.
        write_private(Path(html_file), wall_html(course, shots, refresh=watch))
        taken = sum(s.png is not None for s in shots)
        click.echo(f"wrote {html_file}: {taken} of {len(shots)} screen(s)")
        for shot in shots:
            if shot.problem and shot.desktop.state == "running":
                click.echo(f"sclust: warning: desktop {shot.desktop.name}: {shot.problem}",
                           err=True)
        if not watch:
            return
        time.sleep(watch)


@desktops.command("stop")
@click.argument("name", type=COURSE_NAME)
@click.argument("numbers", nargs=-1)
@click.option("-y", "--yes", is_flag=True, help="Do not ask for confirmation.")
@click.pass_obj
def stop_command(app: AppContext, name: str, numbers: tuple[str, ...], yes: bool) -> None:
    """Stop the desktops of NAME (all, or NUMBERS). Disks and Elastic IPs stay: `sclust
    desktops start NAME` brings them back at the same addresses."""
    from sclust.context import confirm

    which = ", ".join(numbers) if numbers else "every desktop"
    confirm(f"Stop {which} of {name!r}? Students' unsaved work is lost.", yes)
    course = desktops_of(app).stop(name, numbers_of(numbers))
    states = sorted({d.state for d in course.desktops})
    click.echo(f"desktops {name!r}: {', '.join(states) or 'none'}; "
               f"`sclust desktops start {name}` resumes them")


@desktops.command("run", context_settings={"ignore_unknown_options": True})
@click.argument("name", type=COURSE_NAME)
@click.argument("command")
@click.option("-n", "--numbers", "numbers", multiple=True, help=NUMBERS_HELP)
@click.option("--sudo", is_flag=True, help="Run COMMAND as root (through sudo).")
@click.pass_obj
def run_command(app: AppContext, name: str, command: str, numbers: tuple[str, ...],
                sudo: bool) -> None:
    """Run COMMAND (a shell line) on every running desktop of NAME in parallel and show each
    one's exit status and last output line; exits 1 if any failed."""
    from rich.console import Console
    from rich.table import Table

    from sclust.ssh import Result

    course, results = desktops_of(app).run(name, command, numbers_of(numbers), sudo)
    students = {d.name: d.student or "-" for d in course.desktops}
    table = Table(title=f"{name}: {command}", title_justify="left")
    for column in ("#", "student", "status", "output (last line)"):
        table.add_column(column)
    failed = 0
    for number, result in sorted(results.items()):
        if isinstance(result, Result):
            lines = (result.stdout.strip() or result.stderr.strip()).splitlines()
            status = str(result.status)
            failed += result.status != 0
            table.add_row(number, students.get(number, "-"), status, lines[-1] if lines else "")
        else:
            failed += 1
            table.add_row(number, students.get(number, "-"), "error", str(result))
    table.caption = f"{len(results) - failed}/{len(results)} succeeded"
    Console(width=160).print(table)
    sys.exit(1 if failed else 0)


@desktops.command("add")
@click.argument("name", type=COURSE_NAME)
@click.option("-n", "--count", type=click.IntRange(min=1), default=1, show_default=True,
              help="How many desktops to add (numbered after the highest).")
@click.option("-t", "--template", "template_name", metavar="TEMPLATE",
              help="[desktops TEMPLATE] for students' names (default: the course's).")
@click.option("--no-setup", is_flag=True, help="Only the EC2 side: no setup over SSH.")
@click.pass_obj
def add_command(app: AppContext, name: str, count: int, template_name: str | None,
                no_setup: bool) -> None:
    """Add desktops to course NAME (each with its Elastic IP, password and setup)."""
    manager = desktops_of(app)
    settings = manager.get(name).require_settings()
    template = template_of(app, template_name or settings.template)
    added = manager.add(name, count, template, setup=not no_setup)
    from sclust.desktops.state import label

    click.echo(f"added desktop(s) {', '.join(label(n) for n in added)} to {name!r}")


@desktops.command("terminate")
@click.argument("name", type=COURSE_NAME)
@click.option("-y", "--yes", is_flag=True, help="Do not ask for confirmation.")
@click.pass_obj
def terminate_command(app: AppContext, name: str, yes: bool) -> None:
    """Terminate every desktop of NAME and release every Elastic IP allocated for it.

    The students' disks are deleted with the instances. Cannot be undone.
    """
    from sclust.context import confirm

    manager = desktops_of(app)
    course = manager.get(name)
    confirm(f"Terminate {len(course.desktops)} desktop(s) of {name!r} and release "
            f"{len(course.addresses)} Elastic IP(s)? Their disks are deleted.", yes)
    released = manager.terminate(name)
    click.echo(f"desktops {name!r} terminated; {released} Elastic IP(s) released")


@click.command("cost")
@click.argument("template", type=TEMPLATE_NAME)
@click.option("--hours", type=FiniteFloat(min=0), default=None,
              help="Running hours of each machine over the whole span (default: 8 a day).")
@click.option("--days", type=FiniteFloat(min=0, min_open=True), default=1.0,
              show_default=True, help="Days the machines exist (disks and addresses bill).")
@click.option("-n", "--count", type=click.IntRange(min=1),
              help="Desktops (default: the template's COUNT or roster).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.pass_obj
def cost(app: AppContext, template: str, hours: float | None, days: float, count: int | None,
         as_json: bool) -> None:
    """Estimate what a [desktops] or [cluster] TEMPLATE costs, as the Scipion guide does:
    instance hours + root volume GB-months prorated + Elastic IP hours, per machine and in
    total, from the dated price table (override prices in the config's [prices] section).

    \b
    Example: a 2-day course, desktops up 8 hours a day:
      sclust cost course --hours 16 --days 2
    """
    from sclust.desktops.cost import (
        estimate_cluster,
        estimate_desktops,
        load_prices,
        print_estimate,
    )
    from sclust.errors import SclustError

    config = app.config
    hours = 8 * days if hours is None else hours
    prices = load_prices(config)
    is_desktops = template in config.named("desktops")
    is_cluster = template in config.named("cluster")
    if is_desktops and is_cluster:
        raise SclustError(f"both [desktops {template}] and [cluster {template}] exist: "
                          "rename one")
    if is_desktops:
        estimate = estimate_desktops(template_of(app, template, check_key_file=False), prices,
                                     hours, days, count)
    elif is_cluster:
        if count:
            raise SclustError("--count is for desktops; a cluster's size is CLUSTER_SIZE")
        estimate = estimate_cluster(config.template(template, check_key_file=False), prices,
                                    hours, days)
    else:
        from sclust.config import did_you_mean

        names = list(config.named("desktops")) + list(config.named("cluster"))
        raise SclustError(f"no [desktops {template}] or [cluster {template}] template"
                          f"{did_you_mean(template, names)}")
    if as_json:
        import json

        click.echo(json.dumps(estimate.to_json(), indent=2))
        return
    print_estimate(estimate)

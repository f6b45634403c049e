"""Desktops operations, in order: the only place that knows what `desktops start` does first.

start (also the idempotent re-run, and start of stopped desktops), add, stop, run, terminate.
EC2 through DesktopsCloud; each desktop is set up over SSH with its kind's script (KIND:
sclust.desktops.kinds), which also says its ports, URL, credential and when it is ready.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from sclust.cloud import Cloud
from sclust.desktops.cloud import DesktopsCloud, check_address_quota
from sclust.desktops.kinds import (
    DesktopKind,
    DesktopSpec,
    Served,
    course_kinds,
    desktop_setup,
    parse_report,
    served_ports,
)
from sclust.desktops.passwords import PasswordStore
from sclust.desktops.state import Course, CourseSettings, Desktop, label
from sclust.desktops.template import DesktopsTemplate
from sclust.errors import SclustError, WaitTimeout
from sclust.keys import check_key_pair
from sclust.paths import known_hosts_file
from sclust.progress import Progress
from sclust.scripts import ScriptFile, ScriptRun
from sclust.ssh import Connection, PinnedHostKeys, Result, fan_out, raise_failures

if TYPE_CHECKING:
    from sclust.desktops.cost import PriceTable
    from sclust.desktops.schedules import PlannedSchedule, Schedules
    from sclust.pluginrun import PluginOutcome

log = logging.getLogger(__name__)
RUN_COMMAND = ScriptFile("sclust.desktops", "scripts/run-command.sh")
SETUP_TIMEOUT = 1800  # a first setup may install a desktop environment
# The [desktops] keys a re-run of `start` brings to a running course (the rest is fixed).
CALENDAR_FIELDS = ("schedule", "schedule_lead", "schedule_end", "schedule_role", "budget",
                   "budget_action", "timezone")


class Desktops:
    """Desktops operations against one cloud region."""

    def __init__(self, cloud: Cloud, progress: Progress, key_file: Callable[[str], Path],
                 timeout: float = 900, ssh_wait: float = 300,
                 refresh_interval: float = 5.0, schedules: Schedules | None = None,
                 prices: PriceTable | None = None) -> None:
        self.cloud = cloud
        self.schedules = schedules  # the calendar's side of the cloud (EventBridge Scheduler)
        self.prices = prices  # for the budget cap (None: no price table)
        self.refresh_interval = refresh_interval  # longest pause between two polls
        self.dcloud = DesktopsCloud(cloud)
        self.progress = progress
        self.key_file = key_file  # KEYNAME -> private key file (the config's [key])
        self.timeout = timeout
        self.ssh_wait = ssh_wait
        # What the template's plugins did (the CLI reports them; a failure makes exit 1).
        self.plugin_outcomes: list[PluginOutcome] = []

    # ---- looking ---------------------------------------------------------------------------

    def get(self, name: str) -> Course:
        course = self.dcloud.find(name)
        if course.group_id is None and not course.desktops and not course.addresses:
            raise SclustError(f"no desktops named {name!r} in {self.cloud.region}: start them "
                              f"with `sclust desktops start {name}`")
        return course

    def passwords(self, name: str) -> PasswordStore:
        return PasswordStore.load(self.cloud.region, name)

    def host_keys(self, name: str) -> PinnedHostKeys:
        return PinnedHostKeys(known_hosts_file(self.cloud.region, f"desktops-{name}"))

    # ---- start, add ------------------------------------------------------------------------

    def start(self, name: str, template: DesktopsTemplate, numbers: list[int] | None = None,
              setup: bool = True, new_passwords: bool = False) -> Course:
        """Make desktops NUMBERS (default: 1…COUNT and any the course has) run, each with its
        Elastic IP and set up: launches what is missing, starts what is stopped, and leaves
        what is already right alone (so a re-run only fills in)."""
        course = self.dcloud.find(name)
        existing = course.by_number()
        if numbers is None:
            numbers = sorted(set(range(1, template.count + 1)) | set(existing))
        settings = course.settings or self.new_settings(template)
        if course.settings is not None and course.group_id is not None:
            self.update_calendar(course, template)
        self.refuse_over_budget(course)
        # Before anything is made: without it every desktop would launch, then refuse SSH.
        check_key_pair(self.cloud, settings.keyname, self.key_file(settings.keyname))
        kinds = course_kinds(settings)
        missing = [n for n in numbers if n not in existing]
        if settings.elastic_ips:
            needed = [n for n in numbers if course.address_for(n) is None]
            check_address_quota(self.dcloud, course, len(needed))
        ports = [port for kind in kinds for port in kind.ports(settings)]
        if course.group_id is None:
            titles = " and ".join(kind.title for kind in kinds)
            self.progress.step(f"creating the security group of {name} ({titles} port(s) "
                               f"{', '.join(str(p) for p, _ in ports)}, SSH)")
            course.group_id = self.dcloud.create_group(
                name, settings, template.novnc_cidr, template.ssh_cidr, template.permissions,
                ports=ports)
            course.settings = settings
        elif added := self.dcloud.repair_group(course.group_id, settings, template.novnc_cidr,
                                               template.ssh_cidr, template.permissions, ports):
            self.progress.step(f"the security group of {name} lacked {added} rule(s) (an "
                               "interrupted start?): added them")
        self.start_stopped(course, [existing[n] for n in numbers if n in existing])
        launched = self.launch(course, template, missing)
        ids = [existing[n].instance_id for n in numbers if n in existing] + list(launched)
        ready = self.wait_for(ids, "running", f"{len(ids)} desktop(s) of {name} to run")
        # Named once running: a just-launched id is not yet known to every EC2 endpoint.
        for desktop in ready:
            if desktop.instance_id in launched:
                student = template.student(desktop.number)
                desktop.student = student.name if student else None
                self.dcloud.name_desktop(name, desktop.instance_id, desktop.number,
                                         desktop.student)
        course.desktops = sorted([d for d in course.desktops if d.number not in numbers] + ready,
                                 key=lambda d: d.number)
        if settings.elastic_ips:
            self.attach_addresses(course, template, numbers)
        chosen = [d for d in course.desktops if d.number in numbers]
        if setup:
            self.set_up(course, chosen, template, new_passwords)
            self.wait_until_ready(chosen, served_ports(settings))
        self.apply_schedules(course)
        return course

    # ---- calendar and budget ---------------------------------------------------------------

    def update_calendar(self, course: Course, template: DesktopsTemplate) -> None:
        """Bring the template's SCHEDULE, TIMEZONE and BUDGET to a course made earlier (kept in
        its settings tags); a course that loses its calendar loses its schedules."""
        settings = course.require_settings()
        fresh = self.new_calendar(template)
        changed = {k: v for k, v in fresh.items() if getattr(settings, k) != v}
        if not changed:
            return
        was_scheduled = settings.scheduled
        for key, value in changed.items():
            setattr(settings, key, value)
        assert course.group_id
        self.dcloud.save_settings(course.group_id, settings)
        self.progress.step(f"course {course.name}: {', '.join(sorted(changed))} now from "
                           f"[desktops {template.name}]")
        if was_scheduled and not settings.scheduled and self.schedules is not None:
            removed = self.schedules.remove(course.name)
            self.progress.step(f"removed {removed} schedule(s) of {course.name}")

    @staticmethod
    def new_calendar(template: DesktopsTemplate) -> dict[str, object]:
        return {"schedule": template.schedule, "schedule_lead": template.schedule_lead,
                "schedule_end": template.schedule_end, "schedule_role": template.schedule_role,
                "budget": template.budget, "budget_action": template.budget_action,
                "timezone": template.timezone}

    def refuse_over_budget(self, course: Course) -> None:
        """BUDGET_ACTION = stop: no start once the course has spent its budget."""
        settings = course.settings
        if (settings is None or settings.budget is None or settings.budget_action != "stop"
                or self.prices is None or not course.desktops):
            return
        from sclust.desktops.budget import budget_view

        view = budget_view(course, self.prices)
        if view.budget is not None and view.spent >= view.budget:
            raise SclustError(f"desktops {course.name!r} spent ${view.spent:,.2f} of their "
                              f"budget ${view.budget:,.2f} (BUDGET_ACTION = stop): raise "
                              "BUDGET in the template to start them again")

    def planned_schedules(self, course: Course) -> list[PlannedSchedule]:
        """What the course's calendar and budget cap need in the scheduler now."""
        from sclust.desktops.schedules import course_schedules

        settings = course.require_settings()
        ids = [d.instance_id for d in course.desktops
               if d.state not in ("shutting-down", "terminated")]
        cap = None
        if settings.budget is not None and settings.budget_action == "stop":
            if self.prices is None:
                raise SclustError("BUDGET_ACTION = stop needs the price table: fix [prices]")
            from sclust.desktops.budget import budget_view

            cap = budget_view(course, self.prices).cap_at
        return course_schedules(course.name, settings, ids, cap)

    def apply_schedules(self, course: Course) -> list[PlannedSchedule]:
        """Make the scheduler's schedules of COURSE what its calendar and budget say (with the
        desktops it has now); nothing when it has neither."""
        settings = course.require_settings()
        if self.schedules is None or not settings.scheduled:
            return []
        planned = self.planned_schedules(course)
        self.schedules.put(course.name, planned, settings.schedule_role)
        starts = sum(p.action == "start" for p in planned)
        stops = len(planned) - starts
        self.progress.step(f"calendar of {course.name}: {starts} start and {stops} stop "
                           "schedule(s) in EventBridge Scheduler")
        return planned

    def new_settings(self, template: DesktopsTemplate) -> CourseSettings:
        subnet = self.cloud.subnet_for(template.subnet_id, template.availability_zone)
        return CourseSettings(
            template=template.name, keyname=template.key.name, image_id=template.image_id,
            instance_type=template.instance_type, elastic_ips=template.elastic_ips,
            volume_size=template.volume_size, login_user=template.login_user,
            auto_stop=template.auto_stop, kind=template.kind,
            idle_stop=template.idle_stop,
            novnc_port=template.novnc_port, jupyter_port=template.jupyter_port, zone=subnet.zone,
            subnet_id=subnet.subnet_id, vpc_id=subnet.vpc_id, tags=dict(template.tags),
            created=datetime.now().astimezone().isoformat(timespec="seconds"),
            **self.new_calendar(template),  # type: ignore[arg-type]
        )

    def add(self, name: str, count: int, template: DesktopsTemplate, setup: bool = True
            ) -> list[int]:
        """COUNT more desktops, numbered after the highest the course ever had."""
        course = self.get(name)
        used = [d.number for d in course.desktops] + [a.number for a in course.addresses
                                                      if a.number]
        first = max(used, default=0) + 1
        numbers = list(range(first, first + count))
        self.start(name, template, numbers, setup)
        return numbers

    def start_stopped(self, course: Course, desktops: list[Desktop]) -> None:
        stopping = [d.instance_id for d in desktops if d.state == "stopping"]
        if stopping:
            self.wait_for(stopping, "stopped", f"{len(stopping)} desktop(s) to finish stopping")
            desktops = self.dcloud.describe([d.instance_id for d in desktops])
        stopped = [d for d in desktops if d.state == "stopped"]
        if not stopped:
            return
        for desktop in stopped:  # running time of the last run, for `list`'s cost
            self.dcloud.record_run(desktop)
        self.progress.step(f"starting desktop(s) {', '.join(d.name for d in stopped)}")
        self.cloud.start_instances([d.instance_id for d in stopped])

    def launch(self, course: Course, template: DesktopsTemplate, numbers: list[int]
               ) -> dict[str, int]:
        """RunInstances for NUMBERS and their passwords; instance id -> number."""
        if not numbers:
            return {}
        settings = course.require_settings()
        assert course.group_id
        self.progress.step(f"launching {len(numbers)} desktop(s) ({settings.instance_type}, "
                           f"{settings.image_id}): {', '.join(label(n) for n in numbers)}")
        ids = self.dcloud.launch(course.name, numbers, settings, course.group_id)
        launched = dict(zip(ids, numbers, strict=True))
        kinds = course_kinds(settings)
        passwords = self.passwords(course.name)
        forget = []
        for instance_id, number in launched.items():
            student = template.student(number)
            passwords.for_desktop(label(number), instance_id, kinds,
                                  student.name if student else None,
                                  student.email if student else None)
            address = course.address_for(number)
            if address is not None:  # a replaced desktop: its address gets a new host key
                forget.append(address.public_ip)
        passwords.save()
        self.host_keys(course.name).forget(forget)
        return launched

    def attach_addresses(self, course: Course, template: DesktopsTemplate,
                         numbers: list[int]) -> None:
        """Each desktop's own Elastic IP: allocated once (tagged), associated if it is not."""
        by_number = course.by_number()
        allocated = associated = 0
        for number in numbers:
            desktop = by_number[number]
            address = course.address_for(number)
            if address is None:
                student = template.student(number)
                address = self.dcloud.allocate_address(
                    course.name, number, student.name if student else desktop.student,
                    course.require_settings().tags)
                course.addresses.append(address)
                allocated += 1
            if address.instance_id != desktop.instance_id:
                self.dcloud.associate(address, desktop.instance_id)
                associated += 1
            desktop.elastic_ip = address
        if allocated or associated:
            self.progress.step(f"Elastic IPs: {allocated} allocated, {associated} associated")

    # ---- setup over SSH --------------------------------------------------------------------

    def connection(self, course: Course, desktop: Desktop, host_keys: PinnedHostKeys
                   ) -> Connection:
        settings = course.require_settings()
        if not desktop.address:
            raise SclustError(f"desktop {desktop.name} has no address")
        return Connection(f"{course.name}-{desktop.name}", desktop.address, settings.login_user,
                          self.key_file(settings.keyname), host_keys)

    def set_up(self, course: Course, desktops: list[Desktop], template: DesktopsTemplate,
               new_passwords: bool) -> None:
        """Run the kinds' desktop setup (credentials, their HTTPS services, auto-stop) where
        needed."""
        settings = course.require_settings()
        served = served_ports(settings)
        passwords = self.passwords(course.name)
        todo: dict[str, tuple[Desktop, dict[str, str]]] = {}
        unknown = []
        for desktop in desktops:
            known = passwords.known(desktop.name, desktop.instance_id)
            if desktop.setup_done and not new_passwords:
                if known is None or any(kind.name not in known for kind, _ in served):
                    unknown.append(desktop.name)
                continue
            student = template.student(desktop.number)
            credentials = passwords.for_desktop(
                desktop.name, desktop.instance_id, [kind for kind, _ in served],
                desktop.student, student.email if student else None, renew=new_passwords)
            todo[desktop.name] = (desktop, credentials)
        passwords.save()  # before any desktop gets its password: never one we do not keep
        if unknown:
            self.progress.step(f"passwords of {', '.join(unknown)} are not on this machine "
                               f"({passwords.path}): copy that file from the machine that "
                               "started the course, or use --new-passwords")
        if not todo:
            return
        host_keys = self.host_keys(course.name)
        done: list[str] = []
        plugins_failed: set[str] = set()
        lock = threading.Lock()

        with self.progress.waiting(f"setting up {len(todo)} desktop(s)") as update:
            def set_up_one(item: tuple[Desktop, dict[str, str]]) -> str:
                desktop, credentials = item
                connection = self.connection(course, desktop, host_keys)
                try:
                    connection.open(self.ssh_wait)
                    spec = DesktopSpec(served[0][1], f"{course.name}-{desktop.name}",
                                       settings.auto_stop, settings.timezone,
                                       label=desktop.name,
                                       idle_stop=settings.idle_stop)
                    script = desktop_setup(spec, [Served(kind, port, credentials[kind.name])
                                                  for kind, port in served])
                    result = connection.run_script(script, timeout=SETUP_TIMEOUT)
                    report = parse_report(result.stdout)
                    outcomes = self.run_plugins(course, desktop, connection, template)
                finally:
                    connection.close()
                with lock:
                    self.plugin_outcomes += outcomes
                    if any(o.error for o in outcomes):
                        plugins_failed.add(desktop.name)  # the next `start` tries again
                    done.append(desktop.instance_id)
                    update(f"{len(done)}/{len(todo)} set up")
                return str(report.gpus or "none")

            results = fan_out(list(todo.values()), set_up_one, name=lambda item: item[0].name)
        gpus = {n: r for n, r in results.items() if isinstance(r, str)}
        for number, gpu in gpus.items():
            passwords.entries[number].gpu = gpu
        passwords.save()
        self.dcloud.mark_set_up([todo[n][0].instance_id for n in gpus
                                 if n not in plugins_failed])
        if gpus:
            self.progress.step("GPUs: " + ", ".join(f"{n}: {g}" for n, g in sorted(gpus.items())))
        raise_failures(results, "desktop setup")

    def run_plugins(self, course: Course, desktop: Desktop, connection: Connection,
                    template: DesktopsTemplate) -> list[PluginOutcome]:
        """The template's PLUGINS' `run` on one desktop, a cluster of one (it is its own
        master: e.g. CreateUsers makes homes there, as nothing is shared between desktops)."""
        from dataclasses import asdict

        from sclust.pluginrun import call, plugin_node

        view = plugin_node(desktop.name, desktop.instance_id, desktop.private_ip,
                           desktop.public_ip, desktop.instance_type, "master", connection)
        outcomes = []
        for spec in template.plugins:
            outcome = call(asdict(spec), "run", [view], view, None,
                           f"{course.name}-{desktop.name}",
                           (connection.user or "root", "/bin/bash", []))
            if outcome.error:
                outcome.error = f"desktop {desktop.name}: {outcome.error}"
            outcome.reports = [f"desktop {desktop.name}: {line}" for line in outcome.reports]
            outcomes.append(outcome)
        return outcomes

    def wait_until_ready(self, desktops: list[Desktop],
                         served: list[tuple[DesktopKind, int]]) -> None:
        """Until every desktop answers each of its kinds' readiness checks (from this
        machine)."""
        deadline = time.monotonic() + self.timeout
        pending = {d.name: d for d in desktops if d.address}
        titles = " and ".join(kind.title for kind, _ in served)

        def answers_all(desktop: Desktop) -> bool:
            return all(kind.ready(desktop.address or "", port) for kind, port in served)

        with self.progress.waiting(f"waiting for {titles} on {len(pending)} desktop(s)"
                                   ) as update:
            while pending:
                answers = fan_out(list(pending.values()), answers_all, name=lambda d: d.name)
                for name, ok in answers.items():
                    if ok is True:
                        pending.pop(name)
                update(f"{len(desktops) - len(pending)}/{len(desktops)} answering")
                if pending and time.monotonic() > deadline:
                    raise WaitTimeout(f"{titles} did not answer on desktop(s) "
                                      f"{', '.join(sorted(pending))} within {self.timeout:.0f} s"
                                      " (see /var/log/sclust-desktop/ on them)")
                if pending:
                    time.sleep(1)

    # ---- stop, run, terminate --------------------------------------------------------------

    def stop(self, name: str, numbers: list[int] | None = None) -> Course:
        course = self.get(name)
        chosen = pick(course, numbers)
        running = [d.instance_id for d in chosen if d.state in ("pending", "running")]
        if running:
            self.progress.step(f"stopping {len(running)} desktop(s) of {name}")
            self.cloud.stop_instances(running)
            self.wait_for(running, "stopped", f"{len(running)} desktop(s) to stop")
        return self.dcloud.find(name)

    def run(self, name: str, command: str, numbers: list[int] | None = None,
            sudo: bool = False) -> tuple[Course, dict[str, object]]:
        """COMMAND on every running desktop (or NUMBERS) in parallel: a Result or an error
        per desktop."""
        course = self.get(name)
        chosen = [d for d in pick(course, numbers) if d.state == "running" and d.address]
        if not chosen:
            raise SclustError(f"no running desktop of {name!r} to run on")
        host_keys = self.host_keys(name)

        def run_one(desktop: Desktop) -> Result:
            connection = self.connection(course, desktop, host_keys)
            try:
                connection.open(30)
                if sudo:  # as root, the command from a file (never in a command line)
                    result = connection.run_script(sudo_command(command), timeout=3600,
                                                   check=False)
                    result.command = command
                    return result
                return connection.run(command, timeout=3600, check=False)
            finally:
                connection.close()

        return course, fan_out(chosen, run_one, name=lambda d: d.name)

    def terminate(self, name: str) -> int:
        """Terminate every desktop, release every Elastic IP sclust allocated for the course,
        delete its group, forget its passwords and host keys. Returns addresses released."""
        course = self.get(name)
        # The schedules first: none may start a desktop being terminated.
        if self.schedules is not None and course.settings and course.settings.scheduled:
            removed = self.schedules.remove(name)
            self.progress.step(f"deleted {removed} schedule(s) of {name} and their role")
        ids = [d.instance_id for d in course.desktops]
        if ids:
            self.progress.step(f"terminating {len(ids)} desktop(s) of {name}")
            self.cloud.terminate_instances(ids)
            self.wait_for(ids, "terminated", f"{len(ids)} desktop(s) to terminate")
        # Associations end with the instances on EC2: look again before releasing, but only
        # at the addresses that were the course's own before (never a stranger's).
        addresses = course.addresses
        if ids:
            now = {a.allocation_id: a for a in self.dcloud.tagged_addresses(name)}
            addresses = [now[a.allocation_id] for a in addresses if a.allocation_id in now]
        if addresses:
            self.progress.step(f"releasing {len(addresses)} Elastic IP(s)")
        for address in addresses:
            self.dcloud.release(address)
        if course.group_id:
            self.progress.step(f"deleting the security group of {name}")
            self.cloud.delete_security_group(course.group_id)
        self.passwords(name).remove()
        known_hosts_file(self.cloud.region, f"desktops-{name}").unlink(missing_ok=True)
        return len(addresses)

    # ---- waiting ---------------------------------------------------------------------------

    def wait_for(self, instance_ids: list[str], state: str, what: str) -> list[Desktop]:
        """The cloud's waiter (the one clusters use) until every desktop is in STATE."""
        from sclust.desktops.state import desktop_from
        from sclust.waits import wait_for_instances

        instances = wait_for_instances(
            self.cloud, instance_ids, state, self.progress, self.timeout, what=what,
            interval=self.refresh_interval, name=lambda i: f"desktop {desktop_from(i).name}")
        return [desktop_from(i) for i in instances]


def pick(course: Course, numbers: list[int] | None) -> list[Desktop]:
    """The course's desktops NUMBERS (all when None); unknown numbers are an error."""
    if numbers is None:
        return course.desktops
    by_number = course.by_number()
    unknown = [label(n) for n in numbers if n not in by_number]
    if unknown:
        have = ", ".join(d.name for d in course.desktops) or "none"
        raise SclustError(f"desktops {course.name!r} have no number {', '.join(unknown)} "
                          f"(they have {have})")
    return [by_number[n] for n in numbers]


def sudo_command(command: str) -> ScriptRun:
    """What `desktops run --sudo COMMAND` sends: COMMAND as an input, run by bash as root."""
    return ScriptRun().add(RUN_COMMAND, command=command)

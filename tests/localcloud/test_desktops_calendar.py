"""The course calendar on the local cloud: `desktops start` makes EventBridge Scheduler schedules
through the endpoint and the local cloud itself stops the desktops at the end of class and
starts them before the next (its scheduler clock moved there with `clock_offset`, instead of
waiting for class); a BUDGET with BUDGET_ACTION = stop stops them at the cap by itself."""

from __future__ import annotations

import datetime as dt
import json
import zoneinfo
from collections.abc import Callable
from pathlib import Path

from desktops_helpers import course_config
from localcloud_helpers import strictness, wait_state

from tests.conftest import run_sclust

ZONE = zoneinfo.ZoneInfo("Europe/Madrid")


def offset_to(moment: dt.datetime) -> float:
    """The clock offset that makes the scheduler's now MOMENT."""
    return (moment - dt.datetime.now(dt.timezone.utc)).total_seconds()


def runner(config: Path, env: dict[str, str]) -> Callable[..., str]:
    """`sclust -c CONFIG ARGS…` on the local cloud: its stdout, failing the test on an error."""
    def sclust(*args: str) -> str:
        result = run_sclust("-c", str(config), *args, env=env, timeout=300)
        assert result.returncode == 0, f"sclust {' '.join(args)}:\n{result.stderr}"
        return result.stdout

    return sclust


def next_wednesday(hour: int, minute: int, second: int) -> dt.datetime:
    today = dt.datetime.now(ZONE)
    day = today + dt.timedelta(days=(2 - today.weekday()) % 7 + 7)
    return day.replace(hour=hour, minute=minute, second=second, microsecond=0)


def test_the_local_cloud_stops_after_class_and_starts_before_the_next(cloud,
                                                                      tmp_path: Path) -> None:
    config = course_config(cloud, tmp_path, "cal", 2, """\
        SCHEDULE = Mon,Wed 09:00-11:00; Fri 14:00-15:00
        SCHEDULE_LEAD = 15m
        TIMEZONE = Europe/Madrid
        """)
    env = {"SCLUST_LOCAL_DIR": str(cloud.state_dir)}
    sclust = runner(config, env)

    try:
        sclust("desktops", "start", "cal", "--no-setup")
        ids = [d["instance_id"] for d in json.loads(sclust("desktops", "list", "cal", "--json"))]
        listed = json.loads(sclust("desktops", "schedule", "list", "cal", "--json"))
        assert len(listed) == 4 and {s["timezone"] for s in listed} == {"Europe/Madrid"}

        # Three seconds before Wednesday's class ends: the local cloud stops the desktops.
        with strictness(cloud, clock_offset=offset_to(next_wednesday(10, 59, 57))):
            wait_state(cloud, ids, "stopped", timeout=30)
        # Three seconds before the next class's lead time (Friday 13:45): it starts them.
        friday = next_wednesday(13, 44, 57) + dt.timedelta(days=2)
        with strictness(cloud, clock_offset=offset_to(friday)):
            wait_state(cloud, ids, "running", timeout=30)
        log = (cloud.state_dir / "daemon.log").read_text()
        assert "schedule sclust-cal/cal-stop-1" in log and "schedule sclust-cal/cal-start-" in log
    finally:
        run_sclust("-c", str(config), "desktops", "terminate", "cal", "--yes", env=env,
                   timeout=300)
    groups = cloud.client("scheduler").list_schedule_groups()["ScheduleGroups"]
    assert "sclust-cal" not in [g["Name"] for g in groups]


def test_a_budget_that_stops_stops_the_desktops_at_the_cap(cloud, tmp_path: Path) -> None:
    # Two t3.medium desktops (about $0.042/h each) with no calendar: AUTO_STOP bounds the day.
    auto_stop = dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=3)
    config = course_config(cloud, tmp_path, "cap", 2, f"""\
        AUTO_STOP = {auto_stop:%H:%M}
        TIMEZONE = UTC
        BUDGET = 0.05
        BUDGET_ACTION = stop
        """)
    env = {"SCLUST_LOCAL_DIR": str(cloud.state_dir)}
    sclust = runner(config, env)

    try:
        sclust("desktops", "start", "cap", "--no-setup")
        ids = [d["instance_id"] for d in json.loads(sclust("desktops", "list", "cap", "--json"))]
        budget = json.loads(sclust("desktops", "budget", "cap", "--json"))
        cap = dt.datetime.fromisoformat(budget["cap_at"])
        assert dt.timedelta(0) < cap - dt.datetime.now(dt.timezone.utc) < dt.timedelta(hours=1)
        listed = json.loads(sclust("desktops", "schedule", "list", "cap", "--json"))
        assert [s["name"] for s in listed] == ["cap-budget-stop"]
        # Five seconds before the cap, on the local cloud's scheduler clock.
        with strictness(cloud, clock_offset=offset_to(cap - dt.timedelta(seconds=5))):
            wait_state(cloud, ids, "stopped", timeout=30)
        # Run once, deleted after (ActionAfterCompletion = DELETE), as on AWS.
        assert json.loads(sclust("desktops", "schedule", "list", "cap", "--json")) == []
    finally:
        run_sclust("-c", str(config), "desktops", "terminate", "cap", "--yes", env=env,
                   timeout=300)

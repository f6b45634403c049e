"""A course's budget: spend so far, the projection to the end of its calendar, the 80 % warning,
the time the cap is reached (the arithmetic, on a course of made-up desktops), and through the
CLI against moto: `desktops list` shows it, a course past its cap with BUDGET_ACTION = stop is
not started again."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import boto3
import pytest
import requests

from sclust.desktops.budget import budget_view
from sclust.desktops.cost import PriceTable
from sclust.desktops.state import Course, CourseSettings, Desktop
from tests.conftest import run_sclust, write_key

PRICES = PriceTable("2026-01", "us-east-1", "test", {"m.test": 1.0}, ebs_gb_month=0.0,
                    eip_hour=0.0)
MONDAY = datetime(2026, 11, 30, 7, 0, tzinfo=timezone.utc)  # 08:00 in Madrid


def course(count: int = 2, state: str = "stopped", run_hours: float = 0.0,
           **settings: object) -> Course:
    made = CourseSettings(template="t", keyname="k", image_id="ami-1", instance_type="m.test",
                          timezone="Europe/Madrid",
                          created=(MONDAY - timedelta(days=1)).isoformat(), **settings)
    desktops = [Desktop(n, f"i-{n}", state, None, "m.test", None, None, MONDAY, True,
                        run_seconds=run_hours * 3600, counted_until=MONDAY.timestamp())
                for n in range(1, count + 1)]
    return Course("c", "sg-1", made, desktops)


def test_the_projection_runs_to_the_end_of_the_weeks_classes() -> None:
    # Two $1/h desktops, 9:00-12:00 every weekday: 15 class hours left this week, each.
    view = budget_view(course(schedule="Mon-Fri 09:00-12:00"), PRICES, MONDAY)
    assert view.spent == 0 and view.projected == pytest.approx(30)
    assert view.horizon == datetime(2026, 12, 4, 11, 0, tzinfo=timezone.utc)
    assert view.budget is None and view.warning is None and view.cap_at is None


def test_schedule_end_sets_the_horizon_and_the_cap_falls_in_a_class() -> None:
    view = budget_view(course(schedule="Mon-Fri 09:00-12:00", schedule_end="2026-12-08",
                              budget=20.0, budget_action="stop"), PRICES, MONDAY)
    assert view.projected == pytest.approx(2 * 3 * 7)  # seven class days up to Tuesday 8th
    # $6 a class day: $18 by Wednesday's end, $20 an hour into Thursday's (10:00 Madrid).
    assert view.cap_at == datetime(2026, 12, 3, 9, 0, tzinfo=timezone.utc)
    assert "stopped at 2026-12-03 09:00 UTC" in (view.warning or "")


def test_warnings_at_80_percent_and_at_the_cap() -> None:
    near = budget_view(course(run_hours=4.1, budget=10.0), PRICES, MONDAY)
    assert near.spent == pytest.approx(8.2) and "82% of the budget $10.00" in near.warning
    assert budget_view(course(run_hours=3.9, budget=10.0), PRICES, MONDAY).warning is None
    over = budget_view(course(run_hours=6, budget=10.0, budget_action="stop"), PRICES, MONDAY)
    assert over.cap_at == MONDAY and "the desktops are stopped" in over.warning


def test_without_a_calendar_running_desktops_count_until_auto_stop() -> None:
    view = budget_view(course(state="running", auto_stop="18:00", budget=100.0), PRICES,
                       MONDAY)
    # Launched at MONDAY (counted from there), running till 18:00 Madrid = 17:00 UTC: 10 h.
    assert view.projected == pytest.approx(20)
    assert view.horizon == datetime(2026, 11, 30, 17, 0, tzinfo=timezone.utc)


# ---- through the CLI, against moto --------------------------------------------------------

@pytest.fixture
def endpoint(moto_server: str, monkeypatch: pytest.MonkeyPatch) -> str:
    requests.post(f"{moto_server}/moto-api/reset", timeout=10)
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server)
    return moto_server


def test_a_course_past_its_cap_is_listed_with_a_warning_and_not_started(
        endpoint: str, tmp_path: Path, sclust_home: Path) -> None:
    path = tmp_path / "config"
    path.write_text(f"""\
[key k]
KEY_LOCATION = {write_key(tmp_path / "k.pem")}

[desktops course]
KEYNAME = k
IMAGE_ID = ami-12345678
INSTANCE_TYPE = g4dn.xlarge
COUNT = 2
AUTO_STOP = 18:00
BUDGET = 5
BUDGET_ACTION = stop
""")

    def sclust(*args: str):  # noqa: ANN202
        return run_sclust("-c", str(path), *args)

    assert sclust("createkey", "k", "-i", str(tmp_path / "k.pem")).returncode == 0
    assert sclust("desktops", "start", "course", "--no-setup").returncode == 0
    listed = sclust("desktops", "list", "course")
    assert "spent $0." in listed.stdout and "budget $5.00" in listed.stdout
    # Each desktop ran 10 hours before (its tag, as `start` keeps it): $10.52 of $5.
    ec2 = boto3.client("ec2", endpoint_url=endpoint, region_name="us-east-1")
    ids = [d["instance_id"] for d in json.loads(sclust("desktops", "list", "course",
                                                       "--json").stdout)]
    ec2.create_tags(Resources=ids, Tags=[{"Key": "sclust:run-seconds", "Value": "18000 0"}])
    listed = sclust("desktops", "list", "course")
    assert "sclust: warning: desktops course: spent $5.2" in listed.stderr
    assert "the desktops are stopped" in listed.stderr
    assert sclust("desktops", "stop", "course", "--yes").returncode == 0
    refused = sclust("desktops", "start", "course", "--no-setup")
    assert refused.returncode != 0 and "raise BUDGET" in refused.stderr
    assert {d["state"] for d in json.loads(sclust("desktops", "list", "course",
                                                  "--json").stdout)} == {"stopped"}
    assert sclust("desktops", "terminate", "course", "--yes").returncode == 0

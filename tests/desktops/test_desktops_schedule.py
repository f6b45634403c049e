"""A course's calendar: SCHEDULE parsed and refused with FILE:LINE, its cron expressions, and
the EventBridge Scheduler schedules (and their IAM role) `desktops start` makes, `schedule
list` shows and `terminate` removes — against moto's scheduler and IAM."""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest
import requests

from sclust.desktops.calendar import parse_schedule
from tests.conftest import run_sclust, write_key

CONFIG = """\
[key k]
KEY_LOCATION = {key}

[desktops course]
KEYNAME = k
IMAGE_ID = ami-12345678
INSTANCE_TYPE = g4dn.xlarge
COUNT = 2
TIMEZONE = Europe/Madrid
{extra}
"""


@pytest.fixture
def endpoint(moto_server: str, monkeypatch: pytest.MonkeyPatch) -> str:
    requests.post(f"{moto_server}/moto-api/reset", timeout=10)
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server)
    return moto_server


def config(tmp_path: Path, extra: str, createkey: bool = True) -> Path:
    path = tmp_path / "config"
    path.write_text(CONFIG.format(key=write_key(tmp_path / "k.pem"), extra=extra))
    if createkey:
        assert run_sclust("-c", str(path), "createkey", "k", "-i",
                          str(tmp_path / "k.pem")).returncode == 0
    return path


def sclust(path: Path, *args: str) -> str:
    result = run_sclust("-c", str(path), *args)
    assert result.returncode == 0, result.stderr
    return result.stdout


def client(endpoint: str, service: str):  # noqa: ANN201 - a boto3 client
    return boto3.client(service, endpoint_url=endpoint, region_name="us-east-1")


# ---- the calendar as data ----------------------------------------------------------------

def test_a_week_of_classes_becomes_one_start_and_one_stop_cron() -> None:
    entries = parse_schedule("Mon-Fri 08:30-18:00").cron_entries(lead=15 * 60)
    assert [(e.action, e.expression) for e in entries] == [
        ("start", "cron(15 8 ? * MON,TUE,WED,THU,FRI *)"),
        ("stop", "cron(0 18 ? * MON,TUE,WED,THU,FRI *)")]


def test_several_ranges_group_by_time_and_a_lead_may_cross_midnight() -> None:
    calendar = parse_schedule("mon,Wed 09:00-12:00; Friday 13:00-17:00; Tue 00:10-02:00")
    entries = {(e.action, e.expression) for e in calendar.cron_entries(lead=20 * 60)}
    assert entries == {
        ("start", "cron(40 8 ? * MON,WED *)"), ("stop", "cron(0 12 ? * MON,WED *)"),
        ("start", "cron(40 12 ? * FRI *)"), ("stop", "cron(0 17 ? * FRI *)"),
        ("start", "cron(50 23 ? * MON *)"), ("stop", "cron(0 2 ? * TUE *)")}
    assert str(parse_schedule("sat-mon 09:00-10:00")) == "Mon,Sat,Sun 09:00-10:00"


@pytest.mark.parametrize(("value", "problem"), [
    ("Mon-Fri 18:00-08:30", "the end is not after the start"),
    ("Mon-Fri 08:30-18:00; Wed 17:00-19:00", "overlaps"),
    ("Mun 08:00-09:00", "'Mun' is not a day"),
    ("Mon 8-9", "is not DAYS HH:MM-HH:MM"),
    ("Mon 08:00-25:00", "'25:00' is not a time of day"),
    ("Mon,Mon 08:00-09:00", "Mon is named twice"),
    ("Mon 08:00-09:00;", "an empty range"),
])
def test_a_bad_schedule_is_refused_at_its_file_and_line(tmp_path: Path, value: str,
                                                         problem: str) -> None:
    path = config(tmp_path, f"SCHEDULE = {value}", createkey=False)
    result = run_sclust("-c", str(path), "cost", "course")
    assert result.returncode != 0
    assert f"{path}:10:" in result.stderr and "SCHEDULE" in result.stderr, result.stderr
    assert problem in result.stderr


def test_schedule_keys_without_a_schedule_are_refused(tmp_path: Path) -> None:
    path = config(tmp_path, "SCHEDULE_LEAD = 20m\nBUDGET_ACTION = stop", createkey=False)
    result = run_sclust("-c", str(path), "cost", "course")
    assert result.returncode != 0
    assert "SCHEDULE_LEAD needs SCHEDULE" in result.stderr
    assert "BUDGET_ACTION needs BUDGET" in result.stderr
    assert "only AUTO_STOP and SCHEDULE use TIMEZONE" in result.stderr


# ---- EventBridge Scheduler (moto) --------------------------------------------------------

def test_start_makes_the_calendar_list_shows_it_terminate_removes_it(
        endpoint: str, tmp_path: Path, sclust_home: Path) -> None:
    path = config(tmp_path, "SCHEDULE = Mon-Fri 08:30-18:00; Sat 09:00-13:00\n"
                            "SCHEDULE_LEAD = 20m\nSCHEDULE_END = 2031-06-30")
    sclust(path, "desktops", "start", "course", "--no-setup")
    ids = sorted(d["instance_id"] for d in json.loads(
        sclust(path, "desktops", "list", "course", "--json")))
    listed = json.loads(sclust(path, "desktops", "schedule", "list", "course", "--json"))
    assert {(s["action"], s["expression"]) for s in listed} == {
        ("start", "cron(10 8 ? * MON,TUE,WED,THU,FRI *)"), ("start", "cron(40 8 ? * SAT *)"),
        ("stop", "cron(0 18 ? * MON,TUE,WED,THU,FRI *)"), ("stop", "cron(0 13 ? * SAT *)")}
    assert {s["timezone"] for s in listed} == {"Europe/Madrid"}
    assert all(s["desktops"] == 2 and s["state"] == "ENABLED" for s in listed)
    assert all(s["end"].startswith("2031-06-30T22:00") for s in listed)  # Madrid's midnight

    # What EventBridge will do: EC2's own API on these instances, as the course's role.
    scheduler, iam = client(endpoint, "scheduler"), client(endpoint, "iam")
    one = scheduler.get_schedule(Name="course-start-1", GroupName="sclust-course")
    assert one["Target"]["Arn"] == "arn:aws:scheduler:::aws-sdk:ec2:startInstances"
    assert json.loads(one["Target"]["Input"]) == {"InstanceIds": ids}
    assert one["FlexibleTimeWindow"] == {"Mode": "OFF"}
    role = iam.get_role(RoleName="sclust-scheduler-course")["Role"]
    assert one["Target"]["RoleArn"] == role["Arn"]
    trust = role["AssumeRolePolicyDocument"]
    trust = json.loads(trust) if isinstance(trust, str) else trust
    assert trust["Statement"][0]["Principal"] == {"Service": "scheduler.amazonaws.com"}
    policy = iam.get_role_policy(RoleName="sclust-scheduler-course",
                                 PolicyName="start-stop-course")["PolicyDocument"]
    policy = json.loads(policy) if isinstance(policy, str) else policy
    assert policy["Statement"][0]["Action"] == ["ec2:StartInstances", "ec2:StopInstances"]
    assert policy["Statement"][0]["Condition"] == {
        "StringEquals": {"aws:ResourceTag/sclust:desktops": "course"}}

    # A re-run changes nothing; an added desktop joins every schedule.
    sclust(path, "desktops", "start", "course", "--no-setup")
    assert len(json.loads(sclust(path, "desktops", "schedule", "list", "course", "--json"))) == 4
    sclust(path, "desktops", "add", "course", "--no-setup")
    listed = json.loads(sclust(path, "desktops", "schedule", "list", "course", "--json"))
    assert {s["desktops"] for s in listed} == {3}

    # A new SCHEDULE in the template replaces the schedules (fewer ranges: fewer schedules).
    path.write_text(path.read_text().replace("; Sat 09:00-13:00", ""))
    sclust(path, "desktops", "schedule", "apply", "course")
    listed = json.loads(sclust(path, "desktops", "schedule", "list", "course", "--json"))
    assert sorted(s["name"] for s in listed) == ["course-start-1", "course-stop-1"]

    sclust(path, "desktops", "terminate", "course", "--yes")
    assert scheduler.list_schedules(GroupName="sclust-course")["Schedules"] == []
    assert "sclust-course" not in [g["Name"] for g in
                                   scheduler.list_schedule_groups()["ScheduleGroups"]]
    assert "sclust-scheduler-course" not in [r["RoleName"] for r in
                                             iam.list_roles()["Roles"]]


def test_a_course_without_calendar_never_calls_the_scheduler(
        endpoint: str, tmp_path: Path, sclust_home: Path) -> None:
    path = config(tmp_path, "AUTO_STOP = 18:00")
    sclust(path, "desktops", "start", "course", "--no-setup")
    scheduler = client(endpoint, "scheduler")
    assert [g["Name"] for g in scheduler.list_schedule_groups()["ScheduleGroups"]] == [
        "default"]
    sclust(path, "desktops", "terminate", "course", "--yes")


def test_a_budget_that_stops_ends_the_calendar_at_the_cap(
        endpoint: str, tmp_path: Path, sclust_home: Path) -> None:
    # Two g4dn.xlarge desktops on every day's class: a small budget is reached this week.
    path = config(tmp_path, "SCHEDULE = Mon-Sun 00:00-24:00\nBUDGET = 3\n"
                            "BUDGET_ACTION = stop")
    sclust(path, "desktops", "start", "course", "--no-setup")
    listed = {s["name"]: s for s in json.loads(
        sclust(path, "desktops", "schedule", "list", "course", "--json"))}
    cap = listed["course-budget-stop"]
    assert cap["action"] == "stop" and cap["expression"].startswith("at(")
    assert cap["timezone"] == "UTC" and cap["desktops"] == 2
    # ~$1.05/h of instances: about 2.8 h from now; the start crons end then too.
    assert listed["course-start-1"]["end"][:16] == cap["expression"][3:19]
    budget = json.loads(sclust(path, "desktops", "budget", "course", "--json"))
    assert budget["budget"] == 3 and budget["action"] == "stop"
    assert 2.5 * 3600 < (
        __import__("datetime").datetime.fromisoformat(budget["cap_at"])
        - __import__("datetime").datetime.now(__import__("datetime").timezone.utc)
    ).total_seconds() < 3 * 3600
    sclust(path, "desktops", "terminate", "course", "--yes")


def test_a_large_course_splits_its_ids_to_fit_a_schedules_input() -> None:
    from sclust.desktops.schedules import course_schedules
    from sclust.desktops.state import CourseSettings

    settings = CourseSettings(template="t", keyname="k", image_id="ami-1",
                              instance_type="t3.medium", schedule="Mon-Fri 08:30-18:00")
    ids = [f"i-{n:017x}" for n in range(650)]
    planned = course_schedules("big", settings, ids)
    assert [p.name for p in planned] == ["big-start-1", "big-start-1-2", "big-start-1-3",
                                         "big-stop-1", "big-stop-1-2", "big-stop-1-3"]
    assert sorted(i for p in planned[:3] for i in p.instance_ids) == sorted(ids)
    assert all(len(json.dumps({"InstanceIds": p.instance_ids})) <= 8192 for p in planned)

"""EventBridge Scheduler and the IAM role it acts as: a course's calendar in the cloud.

Besides `sclust.ec2`, the one module that imports botocore (through EC2.client_for, so the
credentials, region, endpoint and retries are EC2's). A course's schedules live in their own
schedule group, `sclust-COURSE` (tagged `sclust:desktops = COURSE`): listing and removing
them is one group. The role, `sclust-scheduler-COURSE`, may be assumed by
scheduler.amazonaws.com only and may start and stop only instances tagged for the course.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime, timezone
from typing import Any

import botocore.exceptions

from sclust.desktops.schedules import ACTIONS, TARGETS, PlannedSchedule
from sclust.desktops.state import TAG_COURSE
from sclust.ec2 import EC2, translate

log = logging.getLogger(__name__)
ROLE_PREFIX = "sclust-scheduler-"
GROUP_PREFIX = "sclust-"


def group_name(course: str) -> str:
    return f"{GROUP_PREFIX}{course}"


def role_name(course: str) -> str:
    return f"{ROLE_PREFIX}{course}"


def trust_policy() -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Service": "scheduler.amazonaws.com"},
        "Action": "sts:AssumeRole"}]})


def role_policy(course: str) -> str:
    """Start and stop of the course's instances only (by their tag), nothing else."""
    return json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Action": ["ec2:StartInstances", "ec2:StopInstances"],
        "Resource": "arn:aws:ec2:*:*:instance/*",
        "Condition": {"StringEquals": {f"aws:ResourceTag/{TAG_COURSE}": course}}}]})


def code_of(error: botocore.exceptions.ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


class EventBridgeSchedules:
    """sclust.desktops.schedules.Schedules on EventBridge Scheduler."""

    def __init__(self, ec2: EC2) -> None:
        self.scheduler = ec2.client_for("scheduler")
        self.ec2 = ec2

    # ---- the role --------------------------------------------------------------------------

    def ensure_role(self, course: str) -> str:
        iam = self.ec2.client_for("iam")
        name = role_name(course)
        try:
            try:
                arn = iam.get_role(RoleName=name)["Role"]["Arn"]
            except botocore.exceptions.ClientError as error:
                if code_of(error) != "NoSuchEntity":
                    raise
                arn = iam.create_role(
                    RoleName=name, AssumeRolePolicyDocument=trust_policy(),
                    Description=f"EventBridge Scheduler: start/stop of desktops {course}",
                    Tags=[{"Key": TAG_COURSE, "Value": course}])["Role"]["Arn"]
            iam.put_role_policy(RoleName=name, PolicyName="start-stop-course",
                                PolicyDocument=role_policy(course))
        except botocore.exceptions.ClientError as error:
            raise translate(error, f"making the scheduler's role {name}") from error
        return str(arn)

    def remove_role(self, course: str) -> None:
        iam = self.ec2.client_for("iam")
        name = role_name(course)
        try:
            iam.delete_role_policy(RoleName=name, PolicyName="start-stop-course")
            iam.delete_role(RoleName=name)
        except botocore.exceptions.ClientError as error:
            if code_of(error) != "NoSuchEntity":
                raise translate(error, f"deleting the scheduler's role {name}") from error

    # ---- schedules -------------------------------------------------------------------------

    def ensure_group(self, course: str) -> None:
        # Asked first: moto replaces an existing group (and drops its schedules) on create.
        try:
            self.scheduler.get_schedule_group(Name=group_name(course))
            return
        except botocore.exceptions.ClientError as error:
            if code_of(error) != "ResourceNotFoundException":
                raise translate(error, f"looking up schedule group {group_name(course)}"
                                ) from error
        try:
            self.scheduler.create_schedule_group(
                Name=group_name(course), Tags=[{"Key": TAG_COURSE, "Value": course}])
        except botocore.exceptions.ClientError as error:
            if code_of(error) != "ConflictException":
                raise translate(error, f"creating schedule group {group_name(course)}"
                                ) from error

    def put(self, course: str, planned: list[PlannedSchedule], role_arn: str | None) -> None:
        existing = {s.name for s in self.list(course)}
        wanted = {s.name for s in planned}
        if planned:
            role = role_arn or self.ensure_role(course)
            self.ensure_group(course)
        for schedule in planned:
            arguments: dict[str, Any] = {
                "Name": schedule.name, "GroupName": group_name(course),
                "ScheduleExpression": schedule.expression,
                "ScheduleExpressionTimezone": schedule.zone,
                "FlexibleTimeWindow": {"Mode": "OFF"}, "State": schedule.state,
                "Description": f"sclust desktops {course}: {schedule.action} ({schedule.why})",
                "Target": {"Arn": TARGETS[schedule.action], "RoleArn": role,
                           "Input": json.dumps({"InstanceIds": schedule.instance_ids})},
            }
            if schedule.end is not None:
                arguments["EndDate"] = schedule.end
            if schedule.expression.startswith("at("):
                arguments["ActionAfterCompletion"] = "DELETE"
            call = (self.scheduler.update_schedule if schedule.name in existing
                    else self.scheduler.create_schedule)
            if schedule.name in existing:
                arguments.pop("ActionAfterCompletion", None)  # not an update's parameter
            try:
                call(**arguments)
            except botocore.exceptions.ClientError as error:
                raise translate(error, f"scheduling {schedule.name}") from error
        for name in sorted(existing - wanted):
            self._delete(course, name)

    def _delete(self, course: str, name: str) -> None:
        try:
            self.scheduler.delete_schedule(Name=name, GroupName=group_name(course))
        except botocore.exceptions.ClientError as error:
            if code_of(error) != "ResourceNotFoundException":
                raise translate(error, f"deleting schedule {name}") from error

    def list(self, course: str) -> list[PlannedSchedule]:
        found = []
        try:
            names = []
            for page in self.scheduler.get_paginator("list_schedules").paginate(
                    GroupName=group_name(course)):
                names += [s["Name"] for s in page.get("Schedules", [])
                          if s.get("GroupName") == group_name(course)]
            for name in names:
                found.append(schedule_from(
                    self.scheduler.get_schedule(Name=name, GroupName=group_name(course))))
        except botocore.exceptions.ClientError as error:
            if code_of(error) == "ResourceNotFoundException":
                return []
            raise translate(error, f"listing the schedules of {course}") from error
        return sorted(found, key=lambda s: s.name)

    def remove(self, course: str) -> int:
        schedules = self.list(course)
        for schedule in schedules:
            self._delete(course, schedule.name)
        try:
            self.scheduler.delete_schedule_group(Name=group_name(course))
        except botocore.exceptions.ClientError as error:
            if code_of(error) != "ResourceNotFoundException":
                raise translate(error, f"deleting schedule group {group_name(course)}"
                                ) from error
        self.remove_role(course)
        return len(schedules)


def schedule_from(reply: dict[str, Any]) -> PlannedSchedule:
    """A schedule as the cloud has it (untrusted: only read, never run)."""
    target = reply.get("Target", {})
    try:
        ids = json.loads(target.get("Input") or "{}").get("InstanceIds", [])
    except (ValueError, AttributeError):
        ids = []
    end = reply.get("EndDate")
    if isinstance(end, (int, float)):
        end = datetime.fromtimestamp(end, timezone.utc)
    return PlannedSchedule(
        name=str(reply.get("Name", "")), action=ACTIONS.get(target.get("Arn", ""), "other"),
        expression=str(reply.get("ScheduleExpression", "")),
        zone=str(reply.get("ScheduleExpressionTimezone", "UTC")),
        instance_ids=[str(i) for i in ids if isinstance(i, str)],
        end=end if isinstance(end, datetime) else None, state=str(reply.get("State", "")),
        why=str(reply.get("Description", "")))


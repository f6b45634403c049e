"""IAM policy documents sclust writes (pure: no cloud calls).

- `instructor_policy`: a least-privilege policy for whoever runs a course (or a cluster): the
  read-only calls `sclust desktops list/start/stop` make, and start/stop/reboot of the
  instances tagged for that course or cluster only (tag conditions on sclust's own tags).
- `operator_policy`: what sclust itself calls (EC2, IAM for IAM_PROFILE, EFS, S3 for the data
  plugin's buckets is the instances' business, not the operator's).
- `data_role_policy`: what an instance role needs to mount S3 buckets (the `s3mount` plugin).
"""

from __future__ import annotations

import json
from typing import Any

from sclust.desktops.state import TAG_COURSE, TAG_RUN
from sclust.state import TAG_CLUSTER

VERSION = "2012-10-17"
INSTANCES = "arn:aws:ec2:*:*:instance/*"

# What `sclust desktops list/start/stop COURSE` (and `sclust listclusters/stop/start -x`) read:
# EC2 cannot restrict Describe* to resources, so these are on "*" (they reveal, never change).
READ_ONLY_ACTIONS = (
    "ec2:DescribeInstances",        # find the course's desktops / the cluster's nodes, waits
    "ec2:DescribeSecurityGroups",   # the course's group (its settings are tags on it)
    "ec2:DescribeAddresses",        # the course's Elastic IPs
    "ec2:DescribeKeyPairs",         # `start` checks KEYNAME matches the key file
    "ec2:DescribeAccountAttributes",  # the Elastic IP quota
)
POWER_ACTIONS = ("ec2:StartInstances", "ec2:StopInstances", "ec2:RebootInstances")

# What sclust itself calls, by service (tests/test_iam_policy.py checks that every client
# call of cluster/ec2.py and cluster/iam.py is listed).
OPERATOR_ACTIONS: dict[str, tuple[str, ...]] = {
    "ec2": (
        "AllocateAddress", "AssociateAddress", "AttachVolume", "AuthorizeSecurityGroupIngress",
        "CancelSpotInstanceRequests", "CreateKeyPair", "CreateSecurityGroup", "CreateTags",
        "DeleteSecurityGroup", "DeleteTags", "DescribeAccountAttributes", "DescribeAddresses",
        "DescribeImages", "DescribeInstanceAttribute", "DescribeInstances", "DescribeKeyPairs",
        "DescribeSecurityGroups", "DescribeSpotInstanceRequests", "DescribeSubnets",
        "DescribeVolumes", "DisassociateAddress", "ImportKeyPair", "ModifyInstanceAttribute",
        "RebootInstances", "ReleaseAddress", "RunInstances", "StartInstances", "StopInstances",
        "TerminateInstances",
        # StarCluster's utility commands (volumes, images, keys, spot history, console):
        "CreateImage", "CreateVolume", "DeleteKeyPair", "DeleteSnapshot", "DeleteVolume",
        "DeregisterImage", "DescribeAvailabilityZones", "DescribeRegions",
        "DescribeSpotPriceHistory", "DescribeVolumesModifications", "DetachVolume",
        "GetConsoleOutput", "ModifyVolume",
    ),
    # A course's calendar (SCHEDULE) and budget stop: schedules in a group of its own.
    "scheduler": (
        "CreateSchedule", "CreateScheduleGroup", "DeleteSchedule", "DeleteScheduleGroup",
        "GetSchedule", "GetScheduleGroup", "ListSchedules", "UpdateSchedule",
    ),
    # IAM_PROFILE: an existing profile is read and passed; a missing one is created with its
    # role (tagged), and removed with the cluster or course that created it.
    "iam": (
        "GetInstanceProfile", "CreateInstanceProfile", "DeleteInstanceProfile",
        "AddRoleToInstanceProfile", "RemoveRoleFromInstanceProfile", "CreateRole",
        "GetRole", "DeleteRole", "PutRolePolicy", "DeleteRolePolicy", "ListRolePolicies",
        "PassRole", "TagRole", "TagInstanceProfile",
        # the scheduler's role of a course's calendar: made, read and removed with the course
        # (its PassRole goes to scheduler.amazonaws.com)
        # `sclust iam-policy instructor --apply USER`:
        "GetUser", "CreateUser", "TagUser", "PutUserPolicy", "ListAccessKeys",
        "CreateAccessKey",
    ),
    # EFS for /home or a volume path: found, a mount target made in the cluster's subnet.
    "elasticfilesystem": (
        "DescribeFileSystems", "DescribeMountTargets", "DescribeMountTargetSecurityGroups",
        "CreateMountTarget", "DeleteMountTarget", "ModifyMountTargetSecurityGroups",
    ),
}


def document(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": VERSION, "Statement": list(statements)}


def instructor_policy(name: str, cluster: bool = False) -> dict[str, Any]:
    """May describe, and start/stop/reboot the instances tagged for course NAME (or, with
    CLUSTER, cluster NAME): nothing else is allowed (not RunInstances, TerminateInstances,
    another course's instances, or any tag but the running-time record `start` keeps)."""
    tag = TAG_CLUSTER if cluster else TAG_COURSE
    ours = {"StringEquals": {f"aws:ResourceTag/{tag}": name}}
    statements: list[dict[str, Any]] = [
        {"Sid": "SclustReadOnly", "Effect": "Allow", "Action": list(READ_ONLY_ACTIONS),
         "Resource": "*"},
        {"Sid": "PowerOfTheTaggedInstances", "Effect": "Allow", "Action": list(POWER_ACTIONS),
         "Resource": INSTANCES, "Condition": ours},
    ]
    if not cluster:
        # `desktops start` records each desktop's last running time (for its cost) before
        # starting it: that tag only, on the course's own desktops.
        statements.append(
            {"Sid": "RunningTimeRecord", "Effect": "Allow", "Action": "ec2:CreateTags",
             "Resource": INSTANCES,
             "Condition": {**ours, "ForAllValues:StringEquals": {"aws:TagKeys": [TAG_RUN]}}})
    return document(*statements)


def operator_policy() -> dict[str, Any]:
    """Everything sclust calls, on every resource (what it makes, it makes with names it
    chooses at run time)."""
    actions = [f"{service}:{action}" for service, names in OPERATOR_ACTIONS.items()
               for action in names]
    return document(
        {"Sid": "Sclust", "Effect": "Allow",
         "Action": [a for a in actions if a != "iam:PassRole"], "Resource": "*"},
        {"Sid": "PassInstanceProfileAndSchedulerRoles", "Effect": "Allow",
         "Action": "iam:PassRole", "Resource": "*",
         "Condition": {"StringEquals": {"iam:PassedToService": ["ec2.amazonaws.com",
                                                                 "scheduler.amazonaws.com"]}}})


def data_role_policy(buckets: list[tuple[str, bool]]) -> dict[str, Any]:
    """An instance role's policy for BUCKETS (name, writable): list and read each, and write
    and delete where writable. Empty buckets list: a role that may do nothing."""
    statements: list[dict[str, Any]] = []
    for bucket, writable in sorted(set(buckets)):
        statements.append({"Effect": "Allow",
                           "Action": ["s3:ListBucket", "s3:GetBucketLocation"],
                           "Resource": f"arn:aws:s3:::{bucket}"})
        actions = ["s3:GetObject"]
        if writable:
            actions += ["s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload",
                        "s3:ListMultipartUploadParts"]
        statements.append({"Effect": "Allow", "Action": actions,
                           "Resource": f"arn:aws:s3:::{bucket}/*"})
    if not statements:
        statements.append({"Effect": "Deny", "Action": "*", "Resource": "*"})
    return document(*statements)


def dumps(policy: dict[str, Any]) -> str:
    return json.dumps(policy, indent=2)

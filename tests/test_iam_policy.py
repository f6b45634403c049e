"""IAM policies sclust writes: the operator policy names every call sclust's AWS modules make;
the instructor policy, evaluated as AWS evaluates it, allows the course's start/stop and
nothing else; `--apply` makes a user and its key once (against moto's IAM); the data role
allows reading (and, if asked, writing) its buckets only."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from moto import mock_aws

from sclust.config import AwsSettings
from sclust.errors import CloudError
from sclust.iam import IAM
from sclust.iampolicy import (
    OPERATOR_ACTIONS,
    data_role_policy,
    instructor_policy,
    operator_policy,
)
from sclust.localcloud.iam_eval import Check, evaluate
from tests.conftest import REPO, run_sclust

# service -> (module, the name its client has there)
AWS_MODULES = {"ec2": [(REPO / "cluster" / "ec2.py", "client"),
                       (REPO / "cluster" / "ec2admin.py", "client")],
               "iam": [(REPO / "cluster" / "iam.py", "client"),
                       (REPO / "cluster" / "eventbridge.py", "iam")],
               "elasticfilesystem": [(REPO / "cluster" / "efs.py", "client")],
               "scheduler": [(REPO / "cluster" / "eventbridge.py", "scheduler")]}


def camel(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("_"))


def calls_in(path: Path, client: str) -> set[str]:
    """Every boto3 operation a module calls on its CLIENT (direct, chosen, or paginated)."""
    text = path.read_text()
    names = set(re.findall(rf"self\.{client}\.([a-z_]+)\b", text))
    names |= set(re.findall(rf'{client}\.get_paginator\(\s*"([a-z_]+)"', text))
    if client == "client":
        names |= set(re.findall(r'_paginate\(\s*"([a-z_]+)"', text))
    return {camel(n) for n in names} - {"GetPaginator", "Meta", "Exceptions"}


@pytest.mark.parametrize("service", sorted(AWS_MODULES))
def test_the_operator_policy_names_every_call_sclust_makes(service: str) -> None:
    called = set().union(*(calls_in(path, client) for path, client in AWS_MODULES[service]))
    assert called, f"no calls found in {AWS_MODULES[service]}"
    listed = set(OPERATOR_ACTIONS[service])
    assert called - listed == set(), f"{service} calls missing from the operator policy"
    allowed = {a for s in operator_policy()["Statement"] for a in
               ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])}
    assert {f"{service}:{c}" for c in called} <= allowed


def allowed(policy: dict, action: str, resource: str, tags: dict[str, str] | None = None,
            request_tags: list[str] | None = None) -> bool:
    context: dict[str, str | list[str]] = {
        f"aws:ResourceTag/{k}": v for k, v in (tags or {}).items()}
    if request_tags is not None:
        context["aws:TagKeys"] = request_tags
    return evaluate([json.dumps(policy)], Check(action, resource, context)) == "Allow"


INSTANCE = "arn:aws:ec2:us-east-1:123456789012:instance/i-0123456789abcdef0"


def test_the_instructor_policy_powers_the_course_s_instances_only() -> None:
    policy = instructor_policy("bio")
    bio, chem = {"sclust:desktops": "bio"}, {"sclust:desktops": "chem"}
    for action in ("ec2:StartInstances", "ec2:StopInstances", "ec2:RebootInstances"):
        assert allowed(policy, action, INSTANCE, bio)
        assert not allowed(policy, action, INSTANCE, chem)
        assert not allowed(policy, action, INSTANCE, {})
    assert allowed(policy, "ec2:DescribeInstances", "*")
    for action in ("ec2:TerminateInstances", "ec2:RunInstances", "ec2:DeleteSecurityGroup",
                   "ec2:ReleaseAddress", "iam:CreateUser", "s3:GetObject"):
        assert not allowed(policy, action, INSTANCE, bio)
        assert not allowed(policy, action, "*", bio)
    # Its one tag: the running time `start` records; never a course tag (no hijacking).
    assert allowed(policy, "ec2:CreateTags", INSTANCE, bio, ["sclust:run-seconds"])
    assert not allowed(policy, "ec2:CreateTags", INSTANCE, bio, ["sclust:desktops"])
    assert not allowed(policy, "ec2:CreateTags", INSTANCE, chem, ["sclust:run-seconds"])
    cluster = instructor_policy("hpc", cluster=True)
    assert allowed(cluster, "ec2:StopInstances", INSTANCE, {"sclust:cluster": "hpc"})
    assert not allowed(cluster, "ec2:StopInstances", INSTANCE, {"sclust:desktops": "hpc"})
    assert not allowed(cluster, "ec2:CreateTags", INSTANCE, {"sclust:cluster": "hpc"},
                       ["sclust:run-seconds"])


def test_a_course_name_cannot_widen_the_policy() -> None:
    # Course names are checked by the CLI; the policy itself compares them literally.
    policy = instructor_policy("b*")
    assert not allowed(policy, "ec2:StopInstances", INSTANCE, {"sclust:desktops": "bio"})
    result = run_sclust("iam-policy", "instructor", '"x", "y"')
    assert result.returncode == 2 and "Traceback" not in result.stderr


def test_the_data_role_reads_its_buckets_and_writes_only_where_told() -> None:
    policy = data_role_policy([("shared", False), ("scratch", True)])
    assert allowed(policy, "s3:ListBucket", "arn:aws:s3:::shared")
    assert allowed(policy, "s3:GetObject", "arn:aws:s3:::shared/a/b.txt")
    assert not allowed(policy, "s3:PutObject", "arn:aws:s3:::shared/a/b.txt")
    assert allowed(policy, "s3:PutObject", "arn:aws:s3:::scratch/x")
    assert allowed(policy, "s3:DeleteObject", "arn:aws:s3:::scratch/x")
    assert not allowed(policy, "s3:GetObject", "arn:aws:s3:::other/x")
    assert not allowed(policy, "s3:ListBucket", "arn:aws:s3:::sharedx")
    assert not allowed(data_role_policy([]), "s3:GetObject", "arn:aws:s3:::shared/x")


@mock_aws
def test_apply_makes_the_user_and_one_key_and_updates_the_policy() -> None:
    iam = IAM(AwsSettings(region="us-east-1"))
    first = iam.apply_user("ana", "sclust-instructor-bio", instructor_policy("bio"))
    assert first.created and first.key is not None
    assert first.key.access_key_id.startswith("AKIA") and first.key.secret_access_key
    second = iam.apply_user("ana", "sclust-instructor-bio", instructor_policy("bio2"))
    assert not second.created and second.key is None
    assert second.existing_keys == [first.key.access_key_id]
    stored = iam.client.get_user_policy(UserName="ana", PolicyName="sclust-instructor-bio")
    assert "bio2" in json.dumps(stored["PolicyDocument"])
    third = iam.apply_user("ana", "sclust-instructor-bio", instructor_policy("bio"),
                           new_key=True)
    assert third.key is not None and third.key.access_key_id != first.key.access_key_id
    with pytest.raises(CloudError, match="two access keys"):
        iam.apply_user("ana", "sclust-instructor-bio", instructor_policy("bio"), new_key=True)


@mock_aws
def test_the_new_secret_is_never_logged_even_with_debug(caplog: pytest.LogCaptureFixture
                                                       ) -> None:
    import logging

    for name in ("botocore", "urllib3"):
        logging.getLogger(name).setLevel(logging.DEBUG)
    with caplog.at_level(logging.DEBUG):
        applied = IAM(AwsSettings(region="us-east-1")).apply_user(
            "ana", "sclust-instructor-bio", instructor_policy("bio"))
    assert applied.key is not None
    assert "PutUserPolicy" in caplog.text or "put_user_policy" in caplog.text.lower()
    assert applied.key.secret_access_key not in caplog.text
    assert logging.getLogger("botocore").level == logging.DEBUG  # restored


@mock_aws
def test_a_profile_sclust_made_is_removed_with_its_owner_and_no_other() -> None:
    iam = IAM(AwsSettings(region="us-east-1"))
    iam.create_profile("data-role", "desktops bio", data_role_policy([("shared", False)]))
    profile = iam.profile("data-role")
    assert profile and [r["RoleName"] for r in profile["Roles"]] == ["data-role"]
    assert not iam.delete_profile_of("data-role", "desktops chem")  # not chem's
    assert iam.profile("data-role") is not None
    assert iam.delete_profile_of("data-role", "desktops bio")
    assert iam.profile("data-role") is None
    with pytest.raises(Exception, match="NoSuchEntity"):
        iam.client.get_role(RoleName="data-role")
    # One sclust did not create is never deleted.
    iam.client.create_instance_profile(InstanceProfileName="theirs")
    assert not iam.delete_profile_of("theirs", "desktops bio")
    assert iam.profile("theirs") is not None


def test_iam_policy_operator_prints_json() -> None:
    result = run_sclust("iam-policy", "operator")
    assert result.returncode == 0
    assert "ec2:RunInstances" in json.loads(result.stdout)["Statement"][0]["Action"]

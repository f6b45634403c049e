"""Reusable IAM fixtures for local-cloud tests (IAM enforcement is on by default): an IAM user
with a policy and its access keys, a role with a policy behind an instance profile, and boto3
clients signed as them. Everything is made through the endpoint's own IAM, with the local
cloud's credentials (as an account's root would)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from localcloud_helpers import LocalCloud

EC2_TRUST = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"},
     "Action": "sts:AssumeRole"}]}


def policy(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


@dataclass
class Keys:
    access_key: str
    secret_key: str
    session_token: str | None = None


def make_user(cloud: LocalCloud, name: str, document: str) -> Keys:
    """An IAM user NAME whose one inline policy is DOCUMENT, and new access keys of it."""
    iam = cloud.client("iam")
    iam.create_user(UserName=name)
    iam.put_user_policy(UserName=name, PolicyName=f"{name}-policy", PolicyDocument=document)
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return Keys(key["AccessKeyId"], key["SecretAccessKey"])


def delete_user(cloud: LocalCloud, name: str) -> None:
    iam = cloud.client("iam")
    for key in iam.list_access_keys(UserName=name)["AccessKeyMetadata"]:
        iam.delete_access_key(UserName=name, AccessKeyId=key["AccessKeyId"])
    for policy_name in iam.list_user_policies(UserName=name)["PolicyNames"]:
        iam.delete_user_policy(UserName=name, PolicyName=policy_name)
    iam.delete_user(UserName=name)


def make_instance_role(cloud: LocalCloud, name: str, document: str,
                       trust: dict[str, Any] | None = None) -> str:
    """A role NAME (trusted by EC2, or by TRUST) with DOCUMENT inline, in an instance profile
    of the same name; returns the role's ARN."""
    iam = cloud.client("iam")
    role = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust or EC2_TRUST))
    iam.put_role_policy(RoleName=name, PolicyName=f"{name}-policy", PolicyDocument=document)
    iam.create_instance_profile(InstanceProfileName=name)
    iam.add_role_to_instance_profile(InstanceProfileName=name, RoleName=name)
    return str(role["Role"]["Arn"])


def delete_instance_role(cloud: LocalCloud, name: str) -> None:
    iam = cloud.client("iam")
    iam.remove_role_from_instance_profile(InstanceProfileName=name, RoleName=name)
    iam.delete_instance_profile(InstanceProfileName=name)
    for policy_name in iam.list_role_policies(RoleName=name)["PolicyNames"]:
        iam.delete_role_policy(RoleName=name, PolicyName=policy_name)
    iam.delete_role(RoleName=name)


def client_as(cloud: LocalCloud, keys: Keys, service: str = "ec2") -> Any:
    """A boto3 client of SERVICE on the local cloud signed with KEYS (no retries: a refusal
    is the answer)."""
    import boto3
    import botocore.config

    return boto3.client(service, endpoint_url=cloud.url, region_name="us-east-1",
                        aws_access_key_id=keys.access_key,
                        aws_secret_access_key=keys.secret_key,
                        aws_session_token=keys.session_token,
                        config=botocore.config.Config(retries={"max_attempts": 1}))

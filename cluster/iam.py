"""IAM: the only module that calls AWS Identity and Access Management.

Two jobs: instructor users (`sclust iam-policy instructor --apply USER`) and instance profiles
for IAM_PROFILE. A profile that exists is used as it is and never changed or deleted by
sclust; a missing one is created with a role of the same name (trusted by EC2, with the policy
the template's data plugins need) and both are tagged `sclust:created-for` with the cluster or
course, so that terminating that cluster or course removes them, and nothing else does.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from typing import Any

import botocore.exceptions

from sclust.aws import aws_client, ec2_errors, error_code, translate, wire_unlogged
from sclust.config import AwsSettings
from sclust.errors import CloudError

log = logging.getLogger(__name__)
TAG_CREATED_FOR = "sclust:created-for"  # "cluster NAME" / "desktops NAME" on what sclust made
EC2_TRUST = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"},
     "Action": "sts:AssumeRole"}]}


@dataclass
class AccessKey:
    access_key_id: str
    secret_access_key: str  # shown once, on stdout; never logged


@dataclass
class UserApplied:
    user: str
    created: bool
    policy_name: str
    key: AccessKey | None  # None: the user already had keys, none was made
    existing_keys: list[str]


class IAM:
    """IAM as sclust uses it (global: no region)."""

    def __init__(self, aws: AwsSettings) -> None:
        with ec2_errors("connecting to IAM"):
            self.client = aws_client("iam", aws, None)
        self.sleep = time.sleep

    # ---- instructor users ------------------------------------------------------------------

    def apply_user(self, user: str, policy_name: str, policy: dict[str, Any],
                   new_key: bool = False) -> UserApplied:
        """USER exists with POLICY as its inline POLICY_NAME (created or replaced); an access
        key is made when the user has none (or NEW_KEY)."""
        created = False
        try:
            self.client.get_user(UserName=user)
        except botocore.exceptions.ClientError as error:
            if error_code(error) != "NoSuchEntity":
                raise translate(error, f"looking up IAM user {user}") from error
            with ec2_errors(f"creating IAM user {user}"):
                self.client.create_user(UserName=user, Tags=[
                    {"Key": "sclust:role", "Value": "instructor"}])
            created = True
        with ec2_errors(f"putting policy {policy_name} on IAM user {user}"):
            self.client.put_user_policy(UserName=user, PolicyName=policy_name,
                                        PolicyDocument=json.dumps(policy))
        with ec2_errors(f"listing the access keys of {user}"):
            existing = [k["AccessKeyId"] for k in
                        self.client.list_access_keys(UserName=user)["AccessKeyMetadata"]]
        key = None
        if new_key or not existing:
            if len(existing) >= 2:
                raise CloudError(f"IAM user {user} already has two access keys (IAM's limit): "
                                 "delete one in the IAM console, then ask again")
            with ec2_errors(f"creating an access key of {user}"), wire_unlogged():
                made = self.client.create_access_key(UserName=user)["AccessKey"]
            key = AccessKey(made["AccessKeyId"], made["SecretAccessKey"])
        return UserApplied(user, created, policy_name, key, existing)

    # ---- instance profiles -----------------------------------------------------------------

    def profile(self, name: str) -> dict[str, Any] | None:
        """Instance profile NAME as IAM describes it, or None when there is none."""
        try:
            return dict(self.client.get_instance_profile(InstanceProfileName=name)
                        ["InstanceProfile"])
        except botocore.exceptions.ClientError as error:
            if error_code(error) == "NoSuchEntity":
                return None
            raise translate(error, f"looking up instance profile {name}") from error

    def create_profile(self, name: str, owner: str, policy: dict[str, Any]) -> None:
        """Role NAME (trusted by EC2, POLICY inline) in a new instance profile NAME, both
        tagged as created for OWNER ("cluster X" / "desktops X")."""
        tags = [{"Key": TAG_CREATED_FOR, "Value": owner}]
        with ec2_errors(f"creating role {name}"):
            self.client.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(EC2_TRUST),
                                    Description=f"sclust: instances of {owner}", Tags=tags)
            self.client.put_role_policy(RoleName=name, PolicyName="sclust-data",
                                        PolicyDocument=json.dumps(policy))
        with ec2_errors(f"creating instance profile {name}"):
            self.client.create_instance_profile(InstanceProfileName=name, Tags=tags)
            self.client.add_role_to_instance_profile(InstanceProfileName=name, RoleName=name)

    def delete_profile_of(self, name: str, owner: str) -> bool:
        """Delete instance profile NAME and its role if sclust created them for OWNER;
        returns whether it did (a profile sclust did not create is left alone)."""
        profile = self.profile(name)
        if profile is None or created_for(profile) != owner:
            return False
        roles = [r["RoleName"] for r in profile.get("Roles", [])]
        with ec2_errors(f"deleting instance profile {name}"):
            for role in roles:
                self.client.remove_role_from_instance_profile(InstanceProfileName=name,
                                                              RoleName=role)
            self.client.delete_instance_profile(InstanceProfileName=name)
        for role in roles:
            self.delete_role_of(role, owner)
        return True

    def delete_role_of(self, role: str, owner: str) -> None:
        with ec2_errors(f"deleting role {role}"):
            try:
                tags = self.client.get_role(RoleName=role)["Role"].get("Tags", [])
            except botocore.exceptions.ClientError as error:
                if error_code(error) == "NoSuchEntity":
                    return
                raise
            if {"Key": TAG_CREATED_FOR, "Value": owner} not in tags:
                return
            for policy in self.client.list_role_policies(RoleName=role)["PolicyNames"]:
                self.client.delete_role_policy(RoleName=role, PolicyName=policy)
            self.client.delete_role(RoleName=role)


def created_for(resource: dict[str, Any]) -> str | None:
    tags = {t.get("Key"): t.get("Value") for t in resource.get("Tags", [])}
    value = tags.get(TAG_CREATED_FOR)
    return value if isinstance(value, str) else None


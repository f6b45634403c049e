"""Who signed a request: the local cloud's own credentials (may do everything), an IAM user's
access keys made through the endpoint's IAM (CreateAccessKey), or STS session credentials
(AssumeRole, the instance-profile credentials served by IMDS) with their session token.
Read from moto's IAM and STS state; call with the cloud's lock held."""

from __future__ import annotations

import datetime as dt
import hmac
from dataclasses import dataclass, field
from typing import Any, Literal

from sclust.localcloud.auth import AuthError, Credentials

PARTITION = "aws"


@dataclass
class Identity:
    kind: Literal["root", "user", "session"]
    arn: str
    secret: str
    account: str
    name: str = ""  # the user's or the role's name
    policies: list[str] = field(default_factory=list)  # documents (JSON text)
    session_policy: str | None = None  # AssumeRole's Policy: intersects the role's
    role_arn: str = ""  # of a session
    source_instance: str = ""  # of a session IMDS gave an instance: its ARN

    @property
    def is_root(self) -> bool:
        return self.kind == "root"

    def context(self) -> dict[str, str]:
        """The condition keys of the principal (aws:username, aws:PrincipalArn, …)."""
        found = {"aws:PrincipalAccount": self.account, "aws:SecureTransport": "false"}
        if self.kind == "user":
            found.update({"aws:username": self.name, "aws:PrincipalArn": self.arn,
                          "aws:PrincipalType": "User"})
        elif self.kind == "session":
            found.update({"aws:PrincipalArn": self.role_arn,
                          "aws:PrincipalType": "AssumedRole"})
            if self.source_instance:
                found["ec2:SourceInstanceARN"] = self.source_instance
        return found


def _documents(entity: Any) -> list[str]:
    """Inline and attached managed policy documents of a moto user, group or role."""
    docs = [str(d) for d in entity.policies.values()]
    for policy in entity.managed_policies.values():
        version = next((v for v in policy.versions if v.is_default), None)
        if version is not None:
            docs.append(version.document if isinstance(version.document, str)
                        else _json(version.document))
    return docs


def _json(data: Any) -> str:
    import json

    return json.dumps(data)


def iam_backend(account: str) -> Any:
    from moto.iam.models import iam_backends

    return iam_backends[account][PARTITION]


def sts_backend(account: str) -> Any:
    from moto.sts.models import sts_backends

    return sts_backends[account][PARTITION]


def account_id() -> str:
    from moto.core import DEFAULT_ACCOUNT_ID

    return str(DEFAULT_ACCOUNT_ID)


def resolve(access_key: str, session_token: str | None, root: Credentials,
            now: dt.datetime | None = None) -> Identity:
    """The identity behind `access_key`; AuthError (AWS's code) when there is none."""
    account = account_id()
    if hmac.compare_digest(access_key, root.access_key):
        return Identity("root", f"arn:aws:iam::{account}:root", root.secret_key, account)
    invalid = AuthError("InvalidClientTokenId",
                        "The security token included in the request is invalid.")
    iam = iam_backend(account)
    key = iam.access_keys.get(access_key)
    if key is None:
        raise AuthError("InvalidClientTokenId",
                        "The AWS Access Key Id you provided does not exist in our records.")
    if key.status != "Active":
        raise invalid
    if key.user_name:
        user = iam.users.get(key.user_name)
        if user is None:
            raise invalid
        policies = _documents(user)
        for group in iam.get_groups_for_user(user.name):
            policies += _documents(group)
        return Identity("user", f"arn:aws:iam::{account}:user{user.path}{user.name}",
                        key.secret_access_key, account, user.name, policies)
    session = sts_backend(account).get_assumed_role_from_access_key(access_key)
    if session is None or not session_token \
            or not hmac.compare_digest(session_token, session.session_token):
        raise invalid
    now = now or dt.datetime.now(dt.UTC).replace(tzinfo=None)
    expiration = session.expiration
    if expiration.tzinfo is not None:
        expiration = expiration.astimezone(dt.UTC).replace(tzinfo=None)
    if now >= expiration:
        raise AuthError("ExpiredToken", "The security token included in the request is expired")
    role_name = session.role_arn.split("/")[-1]
    try:
        role = iam.get_role_by_arn(session.role_arn)
    except Exception:
        role = None
    policies = _documents(role) if role is not None else []
    return Identity("session", session.arn, session.secret_access_key, account, role_name,
                    policies, session.policy or None, session.role_arn,
                    getattr(session, "sclust_source_instance", ""))


def issue_session(account: str, region: str, role_arn: str, instance_id: str,
                  seconds: int) -> Any:
    """New STS session credentials of a role for an instance (moto's AssumedRole:
    access_key_id, secret_access_key, session_token, expiration), as EC2 makes for an
    instance profile: the session is named after the instance, and requests signed with it
    carry ec2:SourceInstanceARN."""
    session = sts_backend(account).assume_role(
        region_name=region, role_session_name=instance_id, role_arn=role_arn, policy="",
        duration=seconds, external_id=None)
    session.sclust_source_instance = f"arn:aws:ec2:{region}:{account}:instance/{instance_id}"
    return session


def needs_new_session(issued: dt.datetime, now: dt.datetime, seconds: int) -> bool:
    """Serve fresh role credentials once a sixth of their life has passed (EC2 rotates them
    hourly for six-hour credentials), so an instance always gets ones valid for long."""
    return now >= issued + dt.timedelta(seconds=seconds / 6)

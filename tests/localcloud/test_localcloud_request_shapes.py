"""Requests that IAM enforcement and moto would read differently are refused (found by review):
the checks judge one action while moto runs another. Each is sent, correctly signed, by an IAM
user who may do almost nothing; each must be refused and change nothing."""

from __future__ import annotations

import urllib.error
import urllib.request
from typing import Any

from botocore.auth import S3SigV4QueryAuth, SigV4Auth, SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from iam_helpers import delete_user, make_user, policy


def send(request: AWSRequest) -> tuple[int, str]:
    prepared = request.prepare()
    raw = urllib.request.Request(prepared.url, data=prepared.body or None,
                                 method=prepared.method, headers=dict(prepared.headers))
    try:
        with urllib.request.urlopen(raw, timeout=10) as answer:
            return answer.status, answer.read().decode(errors="replace")
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode(errors="replace")


def signed(keys: Any, service: str, method: str, url: str, body: bytes = b"",
           headers: dict[str, str] | None = None, query: bool = False) -> AWSRequest:
    request = AWSRequest(method=method, url=url, data=body, headers=headers or {})
    credentials = Credentials(keys.access_key, keys.secret_key)
    if query:
        signer = S3SigV4QueryAuth if service == "s3" else SigV4QueryAuth
        signer(credentials, service, "us-east-1", expires=300).add_auth(request)
    else:
        SigV4Auth(credentials, service, "us-east-1").add_auth(request)
    return request


def test_a_request_read_two_ways_is_refused(cloud):
    admin_role = cloud.client("iam").create_role(
        RoleName="shapes-admin", AssumeRolePolicyDocument=policy(
            {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}))
    cloud.client("iam").put_role_policy(
        RoleName="shapes-admin", PolicyName="all", PolicyDocument=policy(
            {"Effect": "Allow", "Action": "*", "Resource": "*"}))
    s3 = cloud.client("s3")
    s3.create_bucket(Bucket="shapes-victim")
    s3.put_object(Bucket="shapes-victim", Key="keep", Body=b"kept")
    # May only describe instances (and, as everyone, ask who it is).
    keys = make_user(cloud, "shapes-user", policy(
        {"Effect": "Allow", "Action": "ec2:DescribeInstances", "Resource": "*"}))
    form = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}
    try:
        # 1. The query says GetCallerIdentity (always allowed), the body AssumeRole.
        status, text = send(signed(
            keys, "sts", "POST", f"{cloud.url}/?Action=GetCallerIdentity&Version=2011-06-15",
            f"Action=AssumeRole&Version=2011-06-15&RoleSessionName=x&RoleArn="
            f"{admin_role['Role']['Arn']}".encode(), form))
        assert status >= 400 and "SecretAccessKey" not in text, text
        # The same for EC2: the query describes, the body would terminate.
        status, text = send(signed(
            keys, "ec2", "POST", f"{cloud.url}/?Action=DescribeInstances&Version=2016-11-15",
            b"Action=TerminateInstances&Version=2016-11-15&InstanceId.1=i-0123456789abcdef0",
            form))
        assert status >= 400, text
        # 2. A presigned URL scoped to STS but aimed at an S3 object.
        status, text = send(signed(
            keys, "sts", "DELETE",
            f"{cloud.url}/shapes-victim/keep?Action=GetCallerIdentity&Version=2011-06-15",
            query=True))
        assert status >= 400, text
        # 3. The bucket in the Host name (moto would read it; the checks would not).
        host = cloud.url.split("//", 1)[1].replace("127.0.0.1", "shapes-victim.localhost")
        status, text = send(signed(keys, "s3", "DELETE", f"{cloud.url}/keep",
                                   headers={"Host": host}))
        assert status >= 400, text
        assert s3.get_object(Bucket="shapes-victim", Key="keep")["Body"].read() == b"kept"
        # Well-formed requests of the same user still work.
        allowed = signed(keys, "ec2", "POST", f"{cloud.url}/",
                         b"Action=DescribeInstances&Version=2016-11-15", form)
        assert send(allowed)[0] == 200
    finally:
        delete_user(cloud, "shapes-user")
        s3.delete_object(Bucket="shapes-victim", Key="keep")
        s3.delete_bucket(Bucket="shapes-victim")
        cloud.client("iam").delete_role_policy(RoleName="shapes-admin", PolicyName="all")
        cloud.client("iam").delete_role(RoleName="shapes-admin")

"""What each EC2/S3/IAM request asks IAM for (action, resource ARNs, condition keys), built from
the request as botocore sends it; and who signed a request, read from moto's IAM/STS state."""

from __future__ import annotations

import datetime as dt
import json
from urllib.parse import urlencode

import boto3
import pytest
from moto import mock_aws

from sclust.localcloud import identity
from sclust.localcloud.auth import AuthError, Credentials
from sclust.localcloud.iam_requests import Ec2Requests, form_params, iam_checks, s3_checks

ACCOUNT = "123456789012"
TAGS = {"i-0aaa": {"course": "bio101", "Name": "node001"}, "vol-0bbb": {"course": "chem"}}


def ec2(**params: str):
    body = urlencode({"Version": "2016-11-15", **params}).encode()
    return Ec2Requests("us-east-1", ACCOUNT, lambda i: TAGS.get(i, {})).checks(
        form_params({"QUERY_STRING": ""}, body))


def arn(kind: str, ident: str, account: str = ACCOUNT) -> str:
    return f"arn:aws:ec2:us-east-1:{account}:{kind}/{ident}"


def test_describes_are_not_resource_scoped():
    (check,) = ec2(Action="DescribeInstances", **{"InstanceId.1": "i-0aaa"})
    assert check.action == "ec2:DescribeInstances" and check.resource == "*"
    assert check.context["ec2:Region"] == "us-east-1"


def test_each_instance_of_a_stop_is_checked_with_its_tags():
    checks = ec2(Action="StopInstances", **{"InstanceId.1": "i-0aaa", "InstanceId.2": "i-0ccc"})
    assert [c.resource for c in checks] == [arn("instance", "i-0aaa"), arn("instance", "i-0ccc")]
    assert checks[0].context["aws:ResourceTag/course"] == "bio101"
    assert checks[0].context["ec2:ResourceTag/Name"] == "node001"
    assert "aws:ResourceTag/course" not in checks[1].context


def test_attach_volume_checks_volume_and_instance():
    checks = ec2(Action="AttachVolume", VolumeId="vol-0bbb", InstanceId="i-0aaa",
                 Device="/dev/sdf")
    assert {c.resource: c.context["aws:ResourceTag/course"] for c in checks} == {
        arn("volume", "vol-0bbb"): "chem", arn("instance", "i-0aaa"): "bio101"}


def test_create_tags_carries_request_tags_and_existing_ones():
    (check,) = ec2(Action="CreateTags", **{"ResourceId.1": "vol-0bbb", "Tag.1.Key": "owner",
                                           "Tag.1.Value": "ana", "Tag.2.Key": "x",
                                           "Tag.2.Value": ""})
    assert check.resource == arn("volume", "vol-0bbb")
    assert check.context["aws:RequestTag/owner"] == "ana"
    assert check.context["aws:TagKeys"] == ["owner", "x"]
    assert check.context["aws:ResourceTag/course"] == "chem"


def test_run_instances_checks_every_resource_and_tagging_at_creation():
    checks = ec2(Action="RunInstances", ImageId="ami-0localubuntu2404", MinCount="1",
                 MaxCount="1", KeyName="k", SubnetId="subnet-1", **{
                     "SecurityGroupId.1": "sg-1",
                     "TagSpecification.1.ResourceType": "instance",
                     "TagSpecification.1.Tag.1.Key": "course",
                     "TagSpecification.1.Tag.1.Value": "bio101"})
    by_resource = {c.resource: c for c in checks if c.action == "ec2:RunInstances"}
    assert set(by_resource) == {
        arn("instance", "*"), arn("volume", "*"), arn("network-interface", "*"),
        "arn:aws:ec2:us-east-1::image/ami-0localubuntu2404", arn("subnet", "subnet-1"),
        arn("security-group", "sg-1"), arn("key-pair", "k")}
    assert by_resource[arn("instance", "*")].context["aws:RequestTag/course"] == "bio101"
    assert "aws:RequestTag/course" not in by_resource[arn("volume", "*")].context
    (tagging,) = [c for c in checks if c.action == "ec2:CreateTags"]
    assert tagging.resource == arn("instance", "*")
    assert tagging.context["ec2:CreateAction"] == "RunInstances"
    assert tagging.context["aws:TagKeys"] == ["course"]


def test_giving_an_instance_a_role_needs_pass_role():
    requests = Ec2Requests("us-east-1", ACCOUNT, lambda i: {},
                           lambda p: [f"arn:aws:iam::{ACCOUNT}:role/r-of-{p}"])
    params = form_params({"QUERY_STRING": ""}, urlencode({
        "Action": "RunInstances", "ImageId": "ami-1", "MinCount": "1", "MaxCount": "1",
        "IamInstanceProfile.Name": "prof"}).encode())
    (passing,) = [c for c in requests.checks(params) if c.action == "iam:PassRole"]
    assert passing.resource == f"arn:aws:iam::{ACCOUNT}:role/r-of-prof"
    assert passing.context["iam:PassedToService"] == "ec2.amazonaws.com"
    assert not [c for c in ec2(Action="RunInstances", ImageId="ami-1", MinCount="1",
                               MaxCount="1") if c.action == "iam:PassRole"]


def test_unmapped_actions_ask_for_star():
    (check,) = ec2(Action="CreateVpc", CidrBlock="10.0.0.0/16")
    assert check.resource == "*" and check.action == "ec2:CreateVpc"


def env(method: str, path: str, query: str = "", **headers: str) -> dict:
    return {"REQUEST_METHOD": method, "PATH_INFO": path, "QUERY_STRING": query,
            "RAW_URI": path + ("?" + query if query else ""), **headers}


@pytest.mark.parametrize("method, path, query, action, resource", [
    ("GET", "/", "", "s3:ListAllMyBuckets", "*"),
    ("PUT", "/data", "", "s3:CreateBucket", "arn:aws:s3:::data"),
    ("DELETE", "/data", "", "s3:DeleteBucket", "arn:aws:s3:::data"),
    ("GET", "/data", "list-type=2&prefix=a%2F", "s3:ListBucket", "arn:aws:s3:::data"),
    ("HEAD", "/data", "", "s3:ListBucket", "arn:aws:s3:::data"),
    ("GET", "/data", "location", "s3:GetBucketLocation", "arn:aws:s3:::data"),
    ("PUT", "/data", "policy", "s3:PutBucketPolicy", "arn:aws:s3:::data"),
    ("GET", "/data/a/b%20c.txt", "", "s3:GetObject", "arn:aws:s3:::data/a/b c.txt"),
    ("HEAD", "/data/k", "", "s3:GetObject", "arn:aws:s3:::data/k"),
    ("PUT", "/data/k", "", "s3:PutObject", "arn:aws:s3:::data/k"),
    ("PUT", "/data/k", "tagging", "s3:PutObjectTagging", "arn:aws:s3:::data/k"),
    ("DELETE", "/data/k", "", "s3:DeleteObject", "arn:aws:s3:::data/k"),
    ("POST", "/data/k", "uploads", "s3:PutObject", "arn:aws:s3:::data/k"),
    ("DELETE", "/data/k", "uploadId=1", "s3:AbortMultipartUpload", "arn:aws:s3:::data/k"),
])
def test_s3_actions_and_arns(method, path, query, action, resource):
    checks = s3_checks(env(method, path, query), b"", "us-east-1")
    assert (checks[0].action, checks[0].resource) == (action, resource)


def test_s3_list_prefix_copy_source_and_multi_delete():
    (listing,) = s3_checks(env("GET", "/data", "list-type=2&prefix=home%2F"), b"", "us-east-1")
    assert listing.context["s3:prefix"] == "home/"
    copy = s3_checks(env("PUT", "/data/new", HTTP_X_AMZ_COPY_SOURCE="other/old%20k"), b"",
                     "us-east-1")
    assert [(c.action, c.resource) for c in copy] == [
        ("s3:PutObject", "arn:aws:s3:::data/new"), ("s3:GetObject", "arn:aws:s3:::other/old k")]
    body = b"<Delete><Object><Key>a&amp;b</Key></Object><Object><Key>c</Key></Object></Delete>"
    deletes = s3_checks(env("POST", "/data", "delete"), body, "us-east-1")
    assert [c.resource for c in deletes] == ["arn:aws:s3:::data/a&b", "arn:aws:s3:::data/c"]


def test_iam_actions_name_their_resource():
    (check,) = iam_checks({"Action": ["CreateAccessKey"], "UserName": ["ana"]}, ACCOUNT)
    assert (check.action, check.resource) == ("iam:CreateAccessKey",
                                              f"arn:aws:iam::{ACCOUNT}:user/ana")
    (check,) = iam_checks({"Action": ["ListUsers"]}, ACCOUNT)
    assert check.resource == "*"


# --- identities from moto's IAM and STS ------------------------------------------------------

ROOT = Credentials("AKIAROOTROOTROOTROOT0", "r" * 40)
S3_READ = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]})
TRUST = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"},
     "Action": "sts:AssumeRole"}]})


@mock_aws
def test_identities_of_root_users_and_sessions():
    iam = boto3.client("iam", region_name="us-east-1")
    assert identity.resolve(ROOT.access_key, None, ROOT).is_root
    iam.create_user(UserName="ana")
    iam.put_user_policy(UserName="ana", PolicyName="inline", PolicyDocument=S3_READ)
    managed = iam.create_policy(PolicyName="m", PolicyDocument=S3_READ)["Policy"]["Arn"]
    iam.create_group(GroupName="g")
    iam.add_user_to_group(GroupName="g", UserName="ana")
    iam.put_group_policy(GroupName="g", PolicyName="gp", PolicyDocument=S3_READ)
    iam.attach_group_policy(GroupName="g", PolicyArn=managed)
    iam.attach_user_policy(UserName="ana", PolicyArn=managed)
    key = iam.create_access_key(UserName="ana")["AccessKey"]
    who = identity.resolve(key["AccessKeyId"], None, ROOT)
    assert who.kind == "user" and who.arn == f"arn:aws:iam::{ACCOUNT}:user/ana"
    assert who.secret == key["SecretAccessKey"] and len(who.policies) == 4
    assert who.context()["aws:username"] == "ana"
    iam.update_access_key(UserName="ana", AccessKeyId=key["AccessKeyId"], Status="Inactive")
    with pytest.raises(AuthError) as refused:
        identity.resolve(key["AccessKeyId"], None, ROOT)
    assert refused.value.code == "InvalidClientTokenId"
    with pytest.raises(AuthError):
        identity.resolve("AKIANOSUCHKEY0000000", None, ROOT)

    role = iam.create_role(RoleName="reader", AssumeRolePolicyDocument=TRUST)["Role"]
    iam.put_role_policy(RoleName="reader", PolicyName="p", PolicyDocument=S3_READ)
    session = identity.issue_session(ACCOUNT, "us-east-1", role["Arn"], "i-0aaa", 3600)
    who = identity.resolve(session.access_key_id, session.session_token, ROOT)
    assert who.kind == "session" and who.name == "reader" and who.policies == [S3_READ]
    assert who.arn == f"arn:aws:sts::{ACCOUNT}:assumed-role/reader/i-0aaa"
    assert who.context()["ec2:SourceInstanceARN"] == \
        f"arn:aws:ec2:us-east-1:{ACCOUNT}:instance/i-0aaa"
    assert who.context()["aws:PrincipalArn"] == role["Arn"]
    for token in (None, "forged" + session.session_token[6:]):
        with pytest.raises(AuthError) as refused:
            identity.resolve(session.access_key_id, token, ROOT)
        assert refused.value.code == "InvalidClientTokenId"
    later = dt.datetime.now(dt.UTC).replace(tzinfo=None) + dt.timedelta(seconds=3601)
    with pytest.raises(AuthError) as refused:
        identity.resolve(session.access_key_id, session.session_token, ROOT, now=later)
    assert refused.value.code == "ExpiredToken"


def test_role_credentials_are_renewed_after_a_sixth_of_their_life():
    issued = dt.datetime(2026, 1, 1, 12, 0, 0)
    assert not identity.needs_new_session(issued, issued + dt.timedelta(minutes=59), 21600)
    assert identity.needs_new_session(issued, issued + dt.timedelta(minutes=60), 21600)

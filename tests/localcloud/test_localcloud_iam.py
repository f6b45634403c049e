"""IAM on the local cloud, as AWS enforces it: requests signed by an IAM user's keys or a role's
session credentials are allowed or refused by that identity's policies (actions, resource ARNs,
tag conditions, explicit Deny first); unknown, wrongly signed, forged and expired credentials are
refused; an instance profile gives a host role credentials in IMDSv2 that it uses through
AWS_ENDPOINT_URL, and is refused what its role does not allow."""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path

import pytest
from botocore.exceptions import ClientError
from iam_helpers import (
    Keys,
    client_as,
    delete_instance_role,
    delete_user,
    make_instance_role,
    make_user,
    policy,
)
from localcloud_helpers import IMAGE, launch, ssh_to, strictness, terminate, wait_state

ACCOUNT = "123456789012"


def code_of(error: pytest.ExceptionInfo[ClientError]) -> str:
    return str(error.value.response["Error"]["Code"])


def instance_arn(instance_id: str) -> str:
    return f"arn:aws:ec2:us-east-1:{ACCOUNT}:instance/{instance_id}"


def tagged(course: str) -> dict:
    return {"TagSpecifications": [{"ResourceType": "instance",
                                   "Tags": [{"Key": "course", "Value": course}]}]}


# An instructor of course bio101: describe everything, start/stop only what is tagged for it.
INSTRUCTOR = policy(
    {"Effect": "Allow", "Action": "ec2:Describe*", "Resource": "*"},
    {"Effect": "Allow", "Action": ["ec2:StartInstances", "ec2:StopInstances"],
     "Resource": f"arn:aws:ec2:*:{ACCOUNT}:instance/*",
     "Condition": {"StringEquals": {"aws:ResourceTag/course": "bio101"}}})


def test_a_user_may_only_what_its_policy_allows(cloud):
    [mine] = launch(cloud, **tagged("bio101"))
    [theirs] = launch(cloud, **tagged("chem"))
    keys = make_user(cloud, "instructor", INSTRUCTOR)
    try:
        ec2 = client_as(cloud, keys)
        ids = {r["InstanceId"] for x in ec2.describe_instances()["Reservations"]
               for r in x["Instances"]}
        assert {mine["InstanceId"], theirs["InstanceId"]} <= ids
        ec2.stop_instances(InstanceIds=[mine["InstanceId"]])
        wait_state(cloud, [mine["InstanceId"]], "stopped")
        ec2.start_instances(InstanceIds=[mine["InstanceId"]])
        with pytest.raises(ClientError) as refused:
            ec2.stop_instances(InstanceIds=[theirs["InstanceId"]])
        assert code_of(refused) == "UnauthorizedOperation"
        message = refused.value.response["Error"]["Message"]
        assert message.startswith("You are not authorized to perform this operation.")
        assert f"User: arn:aws:iam::{ACCOUNT}:user/instructor is not authorized to perform: " \
            f"ec2:StopInstances on resource: {instance_arn(theirs['InstanceId'])}" in message
        # Every instance of one request must be allowed.
        with pytest.raises(ClientError) as refused:
            ec2.stop_instances(InstanceIds=[mine["InstanceId"], theirs["InstanceId"]])
        assert code_of(refused) == "UnauthorizedOperation"
        with pytest.raises(ClientError) as refused:
            ec2.terminate_instances(InstanceIds=[mine["InstanceId"]])
        assert code_of(refused) == "UnauthorizedOperation"
        assert "ec2:TerminateInstances" in refused.value.response["Error"]["Message"]
        with pytest.raises(ClientError) as refused:
            ec2.run_instances(ImageId=IMAGE, MinCount=1, MaxCount=1, InstanceType="t3.micro",
                              SubnetId=cloud.subnet_id, **tagged("bio101"))
        assert code_of(refused) == "UnauthorizedOperation"
        # Nothing happened to the instances it was refused.
        states = {i["InstanceId"]: i["State"]["Name"] for r in
                  cloud.ec2.describe_instances(InstanceIds=[mine["InstanceId"],
                                                            theirs["InstanceId"]])["Reservations"]
                  for i in r["Instances"]}
        assert states[theirs["InstanceId"]] == "running"
        assert states[mine["InstanceId"]] in ("pending", "running")

        # An explicit Deny in another policy beats the Allow.
        iam = cloud.client("iam")
        iam.put_user_policy(UserName="instructor", PolicyName="no-stop", PolicyDocument=policy(
            {"Effect": "Deny", "Action": "ec2:StopInstances", "Resource": "*"}))
        with pytest.raises(ClientError) as refused:
            ec2.stop_instances(InstanceIds=[mine["InstanceId"]])
        assert code_of(refused) == "UnauthorizedOperation"
        assert "explicit deny" in refused.value.response["Error"]["Message"]
        iam.delete_user_policy(UserName="instructor", PolicyName="no-stop")

        # IAM itself: the user has no IAM permission.
        with pytest.raises(ClientError) as refused:
            client_as(cloud, keys, "iam").create_user(UserName="escalated")
        assert code_of(refused) == "AccessDenied"

        # Enforcement is a switch: off, every valid signature may do everything.
        with strictness(cloud, iam_enforcement=False):
            ec2.stop_instances(InstanceIds=[theirs["InstanceId"]])
        with pytest.raises(ClientError):
            ec2.start_instances(InstanceIds=[theirs["InstanceId"]])
    finally:
        delete_user(cloud, "instructor")
        terminate(cloud, [mine, theirs])


def test_unknown_wrong_forged_and_expired_credentials_are_refused(cloud):
    keys = make_user(cloud, "reader", policy(
        {"Effect": "Allow", "Action": "ec2:Describe*", "Resource": "*"}))
    try:
        client_as(cloud, keys).describe_instances()
        for bad in (Keys(keys.access_key, "x" * 40), Keys("AKIANOSUCHKEY0000000", "x" * 40)):
            with pytest.raises(ClientError) as refused:
                client_as(cloud, bad).describe_instances()
            assert code_of(refused) == "AuthFailure"
        with pytest.raises(ClientError) as refused:
            client_as(cloud, Keys("AKIANOSUCHKEY0000000", "x" * 40), "s3").list_buckets()
        assert code_of(refused) == "InvalidAccessKeyId"
        # moto's state (it holds CreateKeyPair's private keys) and the daemon's controls are
        # the local cloud's own business: refused to every IAM identity, even an allowed one.
        import requests
        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest
        from botocore.credentials import Credentials

        for method, path, service in (("GET", "/moto-api/data.json", "ec2"),
                                      ("GET", "/_sclust/status", "sclust"),
                                      ("POST", "/_sclust/shutdown", "sclust")):
            request = AWSRequest(method=method, url=cloud.url + path)
            SigV4Auth(Credentials(keys.access_key, keys.secret_key), service,
                      "us-east-1").add_auth(request)
            answer = requests.request(method, cloud.url + path, headers=dict(request.headers),
                                      timeout=10)
            assert answer.status_code == 403, (path, answer.text[:200])
            assert "PRIVATE KEY" not in answer.text
        assert cloud.ec2.describe_instances() is not None  # still up
        # Deactivated keys stop working.
        iam = cloud.client("iam")
        iam.update_access_key(UserName="reader", AccessKeyId=keys.access_key, Status="Inactive")
        with pytest.raises(ClientError) as refused:
            client_as(cloud, keys).describe_instances()
        assert code_of(refused) == "AuthFailure"
    finally:
        delete_user(cloud, "reader")

    role_arn = make_instance_role(cloud, "session-role", policy(
        {"Effect": "Allow", "Action": "ec2:DescribeInstances", "Resource": "*"}))
    try:
        sts = cloud.client("sts")
        creds = sts.assume_role(RoleArn=role_arn, RoleSessionName="tester")["Credentials"]
        session = Keys(creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"])
        client_as(cloud, session).describe_instances()
        who = client_as(cloud, session, "sts").get_caller_identity()
        assert who["Arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/session-role/tester"
        with pytest.raises(ClientError) as refused:
            client_as(cloud, session).describe_volumes()  # not in the role's policy
        assert code_of(refused) == "UnauthorizedOperation"
        for token in (None, "forged" + creds["SessionToken"][6:]):
            with pytest.raises(ClientError) as refused:
                client_as(cloud, Keys(session.access_key, session.secret_key,
                                      token)).describe_instances()
            assert code_of(refused) == "AuthFailure"
        # One second (botocore itself would refuse less than 900 s: not asked to check).
        import boto3
        import botocore.config

        unchecked = boto3.client("sts", endpoint_url=cloud.url, region_name="us-east-1",
                                 aws_access_key_id=cloud.access_key,
                                 aws_secret_access_key=cloud.secret_key,
                                 config=botocore.config.Config(parameter_validation=False))
        short = unchecked.assume_role(RoleArn=role_arn, RoleSessionName="short",
                                      DurationSeconds=1)["Credentials"]
        time.sleep(1.5)
        expired = Keys(short["AccessKeyId"], short["SecretAccessKey"], short["SessionToken"])
        with pytest.raises(ClientError) as refused:
            client_as(cloud, expired).describe_instances()
        assert code_of(refused) == "RequestExpired"
        with pytest.raises(ClientError) as refused:
            client_as(cloud, expired, "s3").list_buckets()
        assert code_of(refused) == "ExpiredToken"
    finally:
        delete_instance_role(cloud, "session-role")


def test_s3_access_follows_bucket_and_object_arns(cloud):
    s3 = cloud.client("s3")
    for bucket in ("iam-open", "iam-closed"):
        s3.create_bucket(Bucket=bucket)
        s3.put_object(Bucket=bucket, Key="a.txt", Body=b"data of " + bucket.encode())
    keys = make_user(cloud, "s3-reader", policy(
        {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::iam-open"},
        {"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject"],
         "Resource": "arn:aws:s3:::iam-open/*"}))
    try:
        mine = client_as(cloud, keys, "s3")
        assert [o["Key"] for o in mine.list_objects_v2(Bucket="iam-open")["Contents"]] == \
            ["a.txt"]
        assert mine.get_object(Bucket="iam-open", Key="a.txt")["Body"].read() == \
            b"data of iam-open"
        mine.put_object(Bucket="iam-open", Key="b.txt", Body=b"x" * 100_000)
        assert s3.get_object(Bucket="iam-open", Key="b.txt")["ContentLength"] == 100_000
        for call in (lambda: mine.list_objects_v2(Bucket="iam-closed"),
                     lambda: mine.get_object(Bucket="iam-closed", Key="a.txt"),
                     lambda: mine.delete_object(Bucket="iam-open", Key="a.txt"),
                     lambda: mine.create_bucket(Bucket="iam-new"),
                     lambda: mine.list_buckets()):
            with pytest.raises(ClientError) as refused:
                call()
            assert code_of(refused) == "AccessDenied"
        assert "arn:aws:s3:::iam-closed" in str(
            pytest.raises(ClientError, mine.list_objects_v2, Bucket="iam-closed").value)
    finally:
        delete_user(cloud, "s3-reader")
        for bucket in ("iam-open", "iam-closed"):
            for item in s3.list_objects_v2(Bucket=bucket).get("Contents", []):
                s3.delete_object(Bucket=bucket, Key=item["Key"])
            s3.delete_bucket(Bucket=bucket)


def test_a_missing_instance_profile_is_refused_at_launch(cloud):
    for profile, parameter in (({"Name": "no-such-profile"}, "iamInstanceProfile.name"),
                               ({"Arn": f"arn:aws:iam::{ACCOUNT}:instance-profile/none"},
                                "iamInstanceProfile.arn")):
        with pytest.raises(ClientError) as refused:
            cloud.ec2.run_instances(ImageId=IMAGE, MinCount=1, MaxCount=1,
                                    InstanceType="t3.micro", SubnetId=cloud.subnet_id,
                                    KeyName=cloud.key_name, IamInstanceProfile=profile)
        assert code_of(refused) == "InvalidParameterValue"
        message = refused.value.response["Error"]["Message"]
        assert f"for parameter {parameter} is invalid" in message
        assert next(iter(profile.values())) in message


def test_a_host_uses_its_role_from_imds_and_is_refused_the_rest(cloud):
    s3 = cloud.client("s3")
    for bucket in ("role-data", "role-secret"):
        s3.create_bucket(Bucket=bucket)
        s3.put_object(Bucket=bucket, Key="hello.txt", Body=b"hello from " + bucket.encode())
    role_arn = make_instance_role(cloud, "data-reader", policy(
        {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::role-data"},
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::role-data/*"}))
    instances = launch(cloud, count=2, IamInstanceProfile={"Name": "data-reader"},
                       MetadataOptions={"HttpTokens": "required"})
    try:
        for instance in instances:  # every instance of the launch has the profile
            assert instance["IamInstanceProfile"]["Arn"].endswith(":instance-profile/data-reader")
        probe = base64.b64encode((Path(__file__).parent / "role_probe.py").read_bytes()).decode()
        ssh = ssh_to(cloud, instances[0])
        ssh.run(f"echo {probe} | base64 -d > /root/role_probe.py")
        out = ssh.run("python3 /root/role_probe.py role-data role-secret")[1]
        result = json.loads(out.strip().splitlines()[-1])
        ssh.close()
        assert result["instance_id"] == instances[0]["InstanceId"]
        assert result["role"] == "data-reader"
        assert result["profile"].endswith(":instance-profile/data-reader")
        assert result["access_key"].startswith("ASIA")
        assert result["list_allowed"]["status"] == 200, result["list_allowed"]
        assert result["list_allowed"]["keys"] == ["hello.txt"]
        assert result["get_allowed"]["status"] == 200
        assert result["get_allowed"]["text"] == "hello from role-data"
        assert (result["list_other"]["status"], result["list_other"]["code"]) == \
            (403, "AccessDenied")
        assert f"assumed-role/data-reader/{instances[0]['InstanceId']}" in \
            result["list_other"]["text"]
        assert (result["terminate"]["status"], result["terminate"]["code"]) == \
            (403, "UnauthorizedOperation")
        # Valid for hours, as EC2's (6 h); the instance is still running.
        import datetime as dt

        expiration = dt.datetime.strptime(result["expiration"], "%Y-%m-%dT%H:%M:%SZ")
        left = expiration - dt.datetime.now(dt.UTC).replace(tzinfo=None)
        assert dt.timedelta(hours=5) < left <= dt.timedelta(hours=6)
        state = cloud.ec2.describe_instances(InstanceIds=[instances[0]["InstanceId"]])
        assert state["Reservations"][0]["Instances"][0]["State"]["Name"] == "running"
        assert role_arn.endswith(":role/data-reader")
    finally:
        terminate(cloud, instances)
        delete_instance_role(cloud, "data-reader")
        for bucket in ("role-data", "role-secret"):
            s3.delete_object(Bucket=bucket, Key="hello.txt")
            s3.delete_bucket(Bucket=bucket)


def test_launching_needs_tagging_and_pass_role_and_assuming_needs_trust(cloud):
    make_instance_role(cloud, "worker", policy(
        {"Effect": "Allow", "Action": "ec2:DescribeInstances", "Resource": "*"}))
    launcher = policy(
        {"Effect": "Allow", "Action": ["ec2:RunInstances", "ec2:Describe*"], "Resource": "*"},
        {"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"})
    keys = make_user(cloud, "launcher", launcher)
    launched: list[dict] = []
    arguments = {"ImageId": IMAGE, "MinCount": 1, "MaxCount": 1, "InstanceType": "t3.micro",
                 "SubnetId": cloud.subnet_id, "KeyName": cloud.key_name}
    try:
        ec2 = client_as(cloud, keys)
        # Tags at launch need ec2:CreateTags (with ec2:CreateAction), as on AWS.
        with pytest.raises(ClientError) as refused:
            ec2.run_instances(**arguments, **tagged("bio101"))
        assert "ec2:CreateTags" in refused.value.response["Error"]["Message"]
        # An instance profile needs iam:PassRole on its role.
        with pytest.raises(ClientError) as refused:
            ec2.run_instances(**arguments, IamInstanceProfile={"Name": "worker"})
        assert code_of(refused) == "UnauthorizedOperation"
        assert f"iam:PassRole on resource: arn:aws:iam::{ACCOUNT}:role/worker" in \
            refused.value.response["Error"]["Message"]
        cloud.client("iam").put_user_policy(
            UserName="launcher", PolicyName="more", PolicyDocument=policy(
                {"Effect": "Allow", "Action": "iam:PassRole",
                 "Resource": f"arn:aws:iam::{ACCOUNT}:role/worker"},
                {"Effect": "Allow", "Action": "ec2:CreateTags", "Resource": "*",
                 "Condition": {"StringEquals": {"ec2:CreateAction": "RunInstances"}}}))
        answer = ec2.run_instances(**arguments, IamInstanceProfile={"Name": "worker"},
                                   **tagged("bio101"))
        launched = answer["Instances"]
        # ...but CreateTags outside a launch is still refused.
        with pytest.raises(ClientError) as refused:
            ec2.create_tags(Resources=[launched[0]["InstanceId"]],
                            Tags=[{"Key": "course", "Value": "chem"}])
        assert code_of(refused) == "UnauthorizedOperation"

        # AssumeRole: the identity's policy and the role's trust policy must both agree.
        sts = client_as(cloud, keys, "sts")
        with pytest.raises(ClientError) as refused:
            sts.assume_role(RoleArn=f"arn:aws:iam::{ACCOUNT}:role/worker",
                            RoleSessionName="nope")  # trusted by EC2 only
        assert code_of(refused) == "AccessDenied"
        make_instance_role(cloud, "delegate", policy(
            {"Effect": "Allow", "Action": "s3:ListAllMyBuckets", "Resource": "*"}),
            trust={"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
                 "Action": "sts:AssumeRole"}]})
        creds = sts.assume_role(RoleArn=f"arn:aws:iam::{ACCOUNT}:role/delegate",
                                RoleSessionName="ok")["Credentials"]
        session = Keys(creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"])
        client_as(cloud, session, "s3").list_buckets()
        # Presigned with session credentials: the token travels in the URL.
        import boto3
        import botocore.config
        import requests

        presigner = boto3.client(
            "s3", endpoint_url=cloud.url, region_name="us-east-1",
            aws_access_key_id=session.access_key, aws_secret_access_key=session.secret_key,
            aws_session_token=session.session_token,
            config=botocore.config.Config(signature_version="s3v4"))
        url = presigner.generate_presigned_url("list_buckets")
        assert "X-Amz-Security-Token=" in url
        assert requests.get(url, timeout=10).status_code == 200
        forged = url.replace("X-Amz-Security-Token=", "X-Amz-Security-Token=x")
        assert requests.get(forged, timeout=10).status_code == 403
        with pytest.raises(ClientError) as refused:
            client_as(cloud, session).describe_instances()
        assert code_of(refused) == "UnauthorizedOperation"
        delete_instance_role(cloud, "delegate")
        # A trust policy naming the user itself suffices, without any identity policy.
        plain = make_user(cloud, "plain", policy(
            {"Effect": "Allow", "Action": "ec2:DescribeInstances", "Resource": "*"}))
        make_instance_role(cloud, "named", policy(
            {"Effect": "Allow", "Action": "s3:ListAllMyBuckets", "Resource": "*"}),
            trust={"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:user/plain"},
                 "Action": "sts:AssumeRole"}]})
        try:
            client_as(cloud, plain, "sts").assume_role(
                RoleArn=f"arn:aws:iam::{ACCOUNT}:role/named", RoleSessionName="named")
            with pytest.raises(ClientError) as refused:  # names plain, not launcher
                sts.assume_role(RoleArn=f"arn:aws:iam::{ACCOUNT}:role/named",
                                RoleSessionName="other")
            assert code_of(refused) == "AccessDenied"
        finally:
            delete_user(cloud, "plain")
            delete_instance_role(cloud, "named")
    finally:
        delete_user(cloud, "launcher")
        if launched:
            terminate(cloud, launched)
        delete_instance_role(cloud, "worker")


def test_enforcement_is_switched_with_local_set(cloud):
    from click.testing import CliRunner

    from sclust.localcloud import control
    from sclust.localcloud.cli import local

    state = ["--state-dir", str(cloud.state_dir)]
    assert control.configure(cloud.state_dir)["iam_enforcement"] is True  # the default
    keys = make_user(cloud, "nobody", policy(
        {"Effect": "Allow", "Action": "s3:ListAllMyBuckets", "Resource": "*"}))
    try:
        result = CliRunner().invoke(local, ["set", "--no-iam-enforcement", *state])
        assert result.exit_code == 0 and "IAM enforcement off" in result.output
        client_as(cloud, keys).describe_instances()
        result = CliRunner().invoke(local, ["set", "--iam-enforcement", *state])
        assert result.exit_code == 0 and "IAM enforcement on" in result.output
        with pytest.raises(ClientError) as refused:
            client_as(cloud, keys).describe_instances()
        assert code_of(refused) == "UnauthorizedOperation"
    finally:
        control.configure(cloud.state_dir, iam_enforcement=True)
        delete_user(cloud, "nobody")

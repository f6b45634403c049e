"""Only whoever holds the local cloud's credentials may drive it: every request must carry a
valid SigV4 signature made with them (EC2 answers others AuthFailure), moto's management API
and the daemon's control paths too, and no web page can reach it (no CORS, Origin refused)."""

from __future__ import annotations

import json
import stat
from typing import Any

import boto3
import pytest
import requests
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError
from click.testing import CliRunner

from sclust.localcloud import control
from sclust.localcloud.cli import local

DESCRIBE = {"Action": "DescribeInstances", "Version": "2016-11-15"}


def signed(cloud: Any, method: str, path: str, body: bytes = b"", service: str = "ec2",
           secret: str | None = None, headers: dict[str, str] | None = None
           ) -> requests.Response:
    url = cloud.url + path
    request = AWSRequest(method=method, url=url, data=body, headers=dict(headers or {}))
    SigV4Auth(Credentials(cloud.access_key, secret or cloud.secret_key), service,
              "us-east-1").add_auth(request)
    return requests.request(method, url, data=body or None, headers=dict(request.headers),
                            timeout=10)


def test_credentials_are_generated_private_and_not_testing(cloud):
    layout = control.Layout(cloud.state_dir)
    mode = stat.S_IMODE(layout.credentials_file.stat().st_mode)
    assert mode == 0o600
    assert cloud.access_key.startswith("AKIA") and cloud.access_key != "testing"
    assert cloud.secret_key not in layout.endpoint_file.read_text()


def test_signed_clients_work_for_every_service(cloud):
    assert "Reservations" in cloud.ec2.describe_instances()
    s3 = cloud.client("s3")
    s3.create_bucket(Bucket="auth-test")
    try:
        s3.put_object(Bucket="auth-test", Key="dir/a b+c.txt", Body=b"hello")
        assert s3.get_object(Bucket="auth-test", Key="dir/a b+c.txt")["Body"].read() == b"hello"
        # Presigned URLs: SigV4 only (boto3 presigns S3 with SigV2 unless told s3v4).
        import botocore.config

        s3v4 = boto3.client("s3", endpoint_url=cloud.url, region_name="us-east-1",
                            aws_access_key_id=cloud.access_key,
                            aws_secret_access_key=cloud.secret_key,
                            config=botocore.config.Config(signature_version="s3v4"))
        url = s3v4.generate_presigned_url("get_object", Params={"Bucket": "auth-test",
                                                              "Key": "dir/a b+c.txt"})
        assert requests.get(url, timeout=10).content == b"hello"
        assert requests.get(url.replace("Signature=", "Signature=0"), timeout=10).status_code \
            == 403
    finally:
        s3.delete_object(Bucket="auth-test", Key="dir/a b+c.txt")
        s3.delete_bucket(Bucket="auth-test")
    assert cloud.client("sts").get_caller_identity()["Account"]


def test_unsigned_and_wrongly_signed_requests_are_refused_with_auth_failure(cloud):
    unsigned = requests.post(cloud.url + "/", data=DESCRIBE, timeout=10)
    assert unsigned.status_code == 401
    assert "<Code>AuthFailure</Code>" in unsigned.text
    assert "Reservation" not in unsigned.text

    for key, secret in ((cloud.access_key, "x" * 40), ("AKIAWRONGWRONGWRONG0", cloud.secret_key),
                        ("testing", "testing")):
        ec2 = boto3.client("ec2", endpoint_url=cloud.url, region_name="us-east-1",
                           aws_access_key_id=key, aws_secret_access_key=secret)
        with pytest.raises(ClientError) as refused:
            ec2.run_instances(ImageId="ami-0localstarcluster", MinCount=1, MaxCount=1)
        assert refused.value.response["Error"]["Code"] == "AuthFailure"

    # A valid signature over another body is no signature of this one.
    body = "Action=DescribeInstances&Version=2016-11-15"
    request = AWSRequest(method="POST", url=cloud.url + "/", data=body,
                         headers={"Content-Type": "application/x-www-form-urlencoded"})
    SigV4Auth(Credentials(cloud.access_key, cloud.secret_key), "ec2", "us-east-1") \
        .add_auth(request)
    tampered = requests.post(cloud.url + "/", data=body.replace("Describe", "Terminate"),
                             headers=dict(request.headers), timeout=10)
    assert tampered.status_code in (400, 401)
    assert "AuthFailure" in tampered.text or "XAmzContentSHA256Mismatch" in tampered.text

    iam = boto3.client("iam", endpoint_url=cloud.url, region_name="us-east-1",
                       aws_access_key_id=cloud.access_key, aws_secret_access_key="y" * 40)
    with pytest.raises(ClientError, match="SignatureDoesNotMatch"):
        iam.list_users()


def test_moto_management_api_needs_the_credentials_and_cannot_reset(cloud):
    assert requests.get(cloud.url + "/moto-api/data.json", timeout=10).status_code in (401, 403)
    data = signed(cloud, "GET", "/moto-api/data.json", service="moto")
    # Let through (moto itself may fail to serialize a deleted S3 object's state: a 500).
    assert data.status_code not in (401, 403)
    for path in ("/moto-api/reset", "/moto-api/reset-auth", "/moto-api/seed?a=1"):
        assert requests.post(cloud.url + path, timeout=10).status_code in (401, 403)
        assert signed(cloud, "POST", path, service="moto").status_code == 403
    assert cloud.ec2.describe_key_pairs(KeyNames=[cloud.key_name])["KeyPairs"]  # not reset


def test_control_paths_need_the_credentials(cloud):
    for method, path in (("POST", "/_sclust/shutdown"), ("GET", "/_sclust/status"),
                         ("POST", "/_sclust/faults"), ("POST", "/_sclust/settings")):
        answer = requests.request(method, cloud.url + path, data=b"{}", timeout=10)
        assert answer.status_code in (401, 403), path
        assert signed(cloud, method, path, b"{}", service="sclust",
                      secret="z" * 40).status_code in (401, 403), path
    assert signed(cloud, "GET", "/_sclust/status", service="sclust").json()["ok"] is True
    assert control.running_endpoint(control.Layout(cloud.state_dir)) is not None  # still up


def test_browsers_cannot_reach_it(cloud):
    page = {"Origin": "http://evil.example", "Sec-Fetch-Site": "cross-site"}
    # Even with a valid signature (a page cannot sign, but be strict): Origin is refused.
    assert signed(cloud, "POST", "/_sclust/shutdown", b"{}", service="sclust",
                  headers={"Origin": "http://evil.example"}).status_code == 403
    form = requests.post(cloud.url + "/_sclust/shutdown", headers=page, timeout=10)
    assert form.status_code == 403
    preflight = requests.options(cloud.url + "/", headers={
        "Origin": "http://evil.example", "Access-Control-Request-Method": "POST"}, timeout=10)
    assert preflight.status_code == 403
    for answer in (form, preflight, requests.post(cloud.url + "/", data=DESCRIBE, timeout=10)):
        assert not any(h.lower().startswith("access-control-") for h in answer.headers)
    rebound = requests.post(cloud.url + "/", data=DESCRIBE, timeout=10,
                            headers={"Host": "attacker.example:5757"})
    assert rebound.status_code == 403
    # A signed request from an SDK carries no CORS headers back either.
    response = signed(cloud, "POST", "/", json.dumps({}).encode(), service="sclust")
    assert not any(h.lower().startswith("access-control-") for h in response.headers)


def test_status_prints_the_export_lines(cloud):
    result = CliRunner().invoke(local, ["status", "--state-dir", str(cloud.state_dir)])
    assert result.exit_code == 0, result.output
    assert f"export AWS_ENDPOINT_URL={cloud.url}" in result.output
    assert f"export AWS_ACCESS_KEY_ID={cloud.access_key}" in result.output
    assert f"export AWS_SECRET_ACCESS_KEY={cloud.secret_key}" in result.output

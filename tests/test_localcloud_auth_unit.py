"""The local cloud's SigV4 verifier and browser checks, without a daemon: requests signed by
botocore pass, anything else is refused with AWS's codes."""

from __future__ import annotations

import datetime as dt
import io
import stat
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from botocore.auth import S3SigV4QueryAuth, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials as BotoCredentials

from sclust.localcloud import auth

CREDS = auth.Credentials("AKIAEXAMPLEEXAMPLE00", "secret/with+chars" + "x" * 23)
URL = "http://127.0.0.1:5757"


def environ_of(request: AWSRequest) -> dict[str, Any]:
    parts = urlsplit(request.url)
    body = request.body or b""
    if isinstance(body, str):
        body = body.encode()
    environ: dict[str, Any] = {
        "REQUEST_METHOD": request.method, "PATH_INFO": parts.path or "/",
        "RAW_URI": (parts.path or "/") + (f"?{parts.query}" if parts.query else ""),
        "QUERY_STRING": parts.query, "wsgi.input": io.BytesIO(body),
        "CONTENT_LENGTH": str(len(body)), "HTTP_HOST": parts.netloc,
    }
    for name, value in request.headers.items():
        key = name.upper().replace("-", "_")
        if key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            environ[key] = value
        else:
            environ["HTTP_" + key] = value
    return environ


def signed(body: str = "Action=DescribeInstances&Version=2016-11-15", path: str = "/",
           service: str = "ec2", secret: str | None = None) -> tuple[dict[str, Any], bytes]:
    request = AWSRequest(method="POST", url=URL + path, data=body,
                         headers={"Content-Type": "application/x-www-form-urlencoded"})
    SigV4Auth(BotoCredentials(CREDS.access_key, secret or CREDS.secret_key), service,
              "us-east-1").add_auth(request)
    return environ_of(request), body.encode()


def test_a_botocore_signature_is_accepted():
    environ, body = signed()
    assert auth.verify(environ, body, CREDS).service == "ec2"
    environ, body = signed(body="", path="/bucket/dir/a%20b%2Bc.txt", service="s3")
    assert auth.verify(environ, body, CREDS).service == "s3"


@pytest.mark.parametrize("change, code", [
    ("secret", "SignatureDoesNotMatch"),
    ("body", "SignatureDoesNotMatch"),
    ("key", "InvalidClientTokenId"),
    ("unsigned", "MissingAuthenticationToken"),
    ("old", "RequestExpired"),
    ("v2", "IncompleteSignature"),
])
def test_anything_else_is_refused(change: str, code: str):
    environ, body = signed(secret="wrong" if change == "secret" else None)
    now = None
    if change == "body":
        body = body.replace(b"Describe", b"Terminate")
    elif change == "key":
        environ["HTTP_AUTHORIZATION"] = environ["HTTP_AUTHORIZATION"].replace(
            CREDS.access_key, "AKIAOTHEROTHEROTHER0")
    elif change == "unsigned":
        del environ["HTTP_AUTHORIZATION"]
    elif change == "old":
        now = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=20)
    elif change == "v2":
        environ["HTTP_AUTHORIZATION"] = "AWS AKIAEXAMPLEEXAMPLE00:c2lnbmF0dXJl"
    with pytest.raises(auth.AuthError) as refused:
        auth.verify(environ, body, CREDS, now=now)
    assert refused.value.code == code
    status, _, answer = auth.refusal(environ, body, refused.value, "ec2")
    assert status.startswith("401") and b"<Code>AuthFailure</Code>" in answer


def test_presigned_urls_are_checked_and_expire():
    request = AWSRequest(method="GET", url=URL + "/bucket/key.txt")
    S3SigV4QueryAuth(BotoCredentials(CREDS.access_key, CREDS.secret_key), "s3", "us-east-1",
                     expires=60).add_auth(request)
    environ = environ_of(request)
    assert auth.verify(environ, b"", CREDS).presigned
    with pytest.raises(auth.AuthError, match="expired"):
        auth.verify(environ, b"", CREDS, now=dt.datetime.now(dt.UTC) + dt.timedelta(minutes=2))
    environ["QUERY_STRING"] = environ["QUERY_STRING"].replace("key.txt", "x") + "&extra=1"
    with pytest.raises(auth.AuthError):
        auth.verify(environ, b"", CREDS)


@pytest.mark.parametrize("headers, refused", [
    ({}, False),
    ({"HTTP_ORIGIN": "http://evil.example"}, True),
    ({"HTTP_SEC_FETCH_SITE": "cross-site"}, True),
    ({"HTTP_SEC_FETCH_SITE": "same-origin"}, False),
    ({"HTTP_HOST": "rebound.example:5757"}, True),
    ({"HTTP_HOST": "localhost:5757"}, False),
    ({"REQUEST_METHOD": "OPTIONS"}, True),
])
def test_browser_requests_are_recognized(headers: dict[str, str], refused: bool):
    environ = {"REQUEST_METHOD": "POST", "HTTP_HOST": "127.0.0.1:5757", **headers}
    assert (auth.cross_site(environ) is not None) == refused


def test_credentials_are_generated_once_and_private(tmp_path: Path):
    path = tmp_path / "credentials.json"
    first = auth.ensure_credentials(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert first.access_key.startswith("AKIA") and len(first.secret_key) == 40
    path.chmod(0o644)
    assert auth.ensure_credentials(path) == first
    assert stat.S_IMODE(path.stat().st_mode) == 0o600

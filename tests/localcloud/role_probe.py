"""Runs ON a local-cloud host (python3's standard library only: the host image has no boto3):
reads the instance id and the instance profile's role credentials from IMDSv2, then calls the
endpoint named by AWS_ENDPOINT_URL with SigV4 signatures made from them. Prints one JSON line.

Usage: python3 role_probe.py ALLOWED_BUCKET OTHER_BUCKET"""

import datetime
import hashlib
import hmac
import json
import os
import re
import sys
import urllib.error
import urllib.parse
import urllib.request

IMDS = "http://169.254.169.254/latest/"
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def fetch(request):
    try:
        with OPENER.open(request, timeout=20) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def metadata(path, token):
    status, text = fetch(urllib.request.Request(
        IMDS + path, headers={"X-aws-ec2-metadata-token": token}))
    if status != 200:
        raise SystemExit(f"IMDS {path}: HTTP {status}")
    return text


def quote(text):
    return urllib.parse.quote(text, safe="-_.~")


def call(creds, method, service, path, query=None, body=b""):
    endpoint = os.environ["AWS_ENDPOINT_URL"].rstrip("/")
    region = os.environ.get("AWS_DEFAULT_REGION", "us-east-1")
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    payload = hashlib.sha256(body).hexdigest()
    headers = {"host": urllib.parse.urlsplit(endpoint).netloc, "x-amz-date": now,
               "x-amz-content-sha256": payload, "x-amz-security-token": creds["Token"]}
    if body:
        headers["content-type"] = "application/x-www-form-urlencoded; charset=utf-8"
    names = sorted(headers)
    canonical_query = "&".join(f"{quote(k)}={quote(v)}" for k, v in sorted((query or {}).items()))
    canonical = "\n".join([method, path, canonical_query,
                           "".join(f"{k}:{headers[k]}\n" for k in names), ";".join(names),
                           payload])
    scope = f"{now[:8]}/{region}/{service}/aws4_request"
    to_sign = "\n".join(["AWS4-HMAC-SHA256", now, scope,
                         hashlib.sha256(canonical.encode()).hexdigest()])
    key = ("AWS4" + creds["SecretAccessKey"]).encode()
    for part in (now[:8], region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    headers["authorization"] = (f"AWS4-HMAC-SHA256 Credential={creds['AccessKeyId']}/{scope}, "
                                f"SignedHeaders={';'.join(names)}, Signature={signature}")
    url = endpoint + path + ("?" + canonical_query if canonical_query else "")
    status, text = fetch(urllib.request.Request(url, data=body or None, method=method,
                                                headers=headers))
    code = re.search(r"<Code>(.*?)</Code>", text)
    return {"status": status, "code": code.group(1) if code else None,
            "keys": re.findall(r"<Key>(.*?)</Key>", text), "text": text[:600]}


def main():
    allowed, other = sys.argv[1], sys.argv[2]
    status, token = fetch(urllib.request.Request(
        IMDS + "api/token", method="PUT",
        headers={"X-aws-ec2-metadata-token-ttl-seconds": "300"}))
    if status != 200:
        raise SystemExit(f"no IMDSv2 token: HTTP {status}")
    instance_id = metadata("meta-data/instance-id", token)
    role = metadata("meta-data/iam/security-credentials/", token).split()[0]
    creds = json.loads(metadata(f"meta-data/iam/security-credentials/{role}", token))
    info = json.loads(metadata("meta-data/iam/info", token))
    terminate = urllib.parse.urlencode({"Action": "TerminateInstances", "Version": "2016-11-15",
                                        "InstanceId.1": instance_id}).encode()
    print(json.dumps({
        "instance_id": instance_id, "role": role, "profile": info["InstanceProfileArn"],
        "expiration": creds["Expiration"], "access_key": creds["AccessKeyId"],
        "list_allowed": call(creds, "GET", "s3", f"/{allowed}", {"list-type": "2"}),
        "get_allowed": call(creds, "GET", "s3", f"/{allowed}/hello.txt"),
        "list_other": call(creds, "GET", "s3", f"/{other}", {"list-type": "2"}),
        "terminate": call(creds, "POST", "ec2", "/", body=terminate),
    }))


if __name__ == "__main__":
    main()

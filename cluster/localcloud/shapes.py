"""Requests whose meaning differs between the checks and moto are refused before either sees
them: IAM enforcement judges one reading of a request, moto runs another, so every request
must have one reading only.

- A form-protocol request (EC2, IAM, STS…) names its parameters in the query string or in the
  body, never both (moto reads the body and falls back to the query string; a check reading
  the other would judge a different action).
- A presigned URL (the signature in the query string) is S3's only, and names no Action (moto
  sends a request without an Authorization header to S3 whatever its scope says).
- S3 is path-style: a bucket in the Host name (`bucket.localhost`) would be read by moto and
  not by the checks.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl

SIGNATURE_PARAMS = {"X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date", "X-Amz-Expires",
                    "X-Amz-SignedHeaders", "X-Amz-Signature", "X-Amz-Security-Token"}
FORM = "application/x-www-form-urlencoded"


def ambiguity(environ: Mapping[str, Any], body: bytes, service: str | None,
              presigned: bool) -> str | None:
    """Why this request could be read two ways, or None."""
    query = [k for k, _ in parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True)
             if k not in SIGNATURE_PARAMS]
    host = (environ.get("HTTP_HOST") or "").rsplit(":", 1)[0].strip("[]").lower()
    if host.endswith(".localhost"):
        return "virtual-hosted S3 addresses are not served: use path-style requests"
    if presigned and (service != "s3" or "Action" in query):
        return "presigned URLs are for S3 objects and buckets only"
    if service == "s3" or environ.get("HTTP_X_AMZ_TARGET"):
        return None
    content_type = (environ.get("CONTENT_TYPE") or "").split(";")[0].strip().lower()
    in_body = [k for k, _ in parse_qsl(body.decode(errors="replace"), keep_blank_values=True)
               ] if body and content_type in ("", FORM) else []
    if query and in_body:
        return "parameters in both the query string and the body"
    if (query + in_body).count("Action") > 1:
        return "Action given more than once"
    return None

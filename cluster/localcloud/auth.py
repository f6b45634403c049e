"""Who may drive the local cloud: AWS Signature Version 4 with the credentials `sclust local up`
generates (a 0600 file in the state directory), and no cross-site browser requests.

The verifier recomputes the signature as AWS does (canonical request, string to sign, signing
key from the secret) from the request as it arrived, for every service moto serves: header
signatures (`Authorization: AWS4-HMAC-SHA256 …`) and presigned URLs (`X-Amz-Signature=…`)."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import os
import re
import secrets
import string
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

ALGORITHM = "AWS4-HMAC-SHA256"
MAX_SKEW = dt.timedelta(minutes=15)  # AWS refuses requests signed further from its clock
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
_HEX64 = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class Credentials:
    access_key: str
    secret_key: str


def generate() -> Credentials:
    """Fresh credentials shaped like an IAM user's (AKIA + 16, secret of 40)."""
    upper = string.ascii_uppercase + string.digits
    alphabet = string.ascii_letters + string.digits + "+/"
    return Credentials("AKIA" + "".join(secrets.choice(upper) for _ in range(16)),
                       "".join(secrets.choice(alphabet) for _ in range(40)))


def ensure_credentials(path: Path) -> Credentials:
    """The credentials in `path` (mode 0600), generated and written there first if missing."""
    existing = load_credentials(path)
    if existing is not None:
        if path.stat().st_mode & 0o077:
            path.chmod(0o600)
        return existing
    creds = generate()
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump({"access_key": creds.access_key, "secret_key": creds.secret_key}, f)
    os.replace(tmp, path)
    return creds


def load_credentials(path: Path) -> Credentials | None:
    try:
        data = json.loads(path.read_text())
        return Credentials(str(data["access_key"]), str(data["secret_key"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


# --- verification ------------------------------------------------------------------------------

class AuthError(Exception):
    """A request that must be refused: `code` is AWS's error code for it."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass
class _Signed:
    access_key: str
    date: str  # YYYYMMDD of the scope
    region: str
    service: str
    signed_headers: list[str]
    signature: str
    amz_date: str
    payload_hash: str
    presigned: bool


def _header(environ: dict[str, Any], name: str) -> str | None:
    name = name.lower()
    if name == "content-type":
        return environ.get("CONTENT_TYPE")
    if name == "content-length":
        return environ.get("CONTENT_LENGTH")
    return environ.get("HTTP_" + name.upper().replace("-", "_"))


def _query_pairs(query: str) -> list[tuple[str, str]]:
    pairs = []
    for part in query.split("&"):
        if part:
            key, _, value = part.partition("=")
            pairs.append((key, value))
    return pairs


def parse(environ: dict[str, Any], body: bytes) -> _Signed:
    """The signature's fields (access key, scope…), before any check; AuthError if absent."""
    return _parse(environ, body)


def session_token(environ: dict[str, Any]) -> str | None:
    """The STS session token of a request (header, or query of a presigned URL)."""
    token = _header(environ, "x-amz-security-token")
    if token:
        return token
    for key, value in _query_pairs(environ.get("QUERY_STRING", "")):
        if unquote(key) == "X-Amz-Security-Token":
            return unquote(value)
    return None


def _parse(environ: dict[str, Any], body: bytes) -> _Signed:
    query = _query_pairs(environ.get("QUERY_STRING", ""))
    params = {unquote(k): unquote(v) for k, v in query}
    authorization = _header(environ, "authorization")
    if authorization:
        scheme, _, rest = authorization.strip().partition(" ")
        if scheme != ALGORITHM:
            raise AuthError("IncompleteSignature", f"only {ALGORITHM} signatures are accepted")
        fields = {}
        for item in rest.split(","):
            key, _, value = item.strip().partition("=")
            fields[key] = value
        try:
            credential, headers, signature = (fields["Credential"], fields["SignedHeaders"],
                                              fields["Signature"])
        except KeyError:
            raise AuthError("IncompleteSignature", "the Authorization header is incomplete") \
                from None
        amz_date = _header(environ, "x-amz-date") or ""
        claimed = _header(environ, "x-amz-content-sha256")
        if claimed and _HEX64.match(claimed) and hashlib.sha256(body).hexdigest() != claimed:
            raise AuthError("XAmzContentSHA256Mismatch", "the body does not match its hash")
        payload = claimed or hashlib.sha256(body).hexdigest()
        presigned = False
    elif "X-Amz-Signature" in params:
        if params.get("X-Amz-Algorithm") != ALGORITHM:
            raise AuthError("IncompleteSignature", f"only {ALGORITHM} signatures are accepted")
        try:
            credential, headers, signature, amz_date = (
                params["X-Amz-Credential"], params["X-Amz-SignedHeaders"],
                params["X-Amz-Signature"], params["X-Amz-Date"])
        except KeyError:
            raise AuthError("AuthorizationQueryParametersError",
                            "the presigned URL is incomplete") from None
        payload = _header(environ, "x-amz-content-sha256") or "UNSIGNED-PAYLOAD"
        presigned = True
    else:
        raise AuthError("MissingAuthenticationToken", "the request is not signed")
    parts = credential.split("/")
    if len(parts) != 5 or parts[4] != "aws4_request":
        raise AuthError("IncompleteSignature", "malformed credential scope")
    return _Signed(parts[0], parts[1], parts[2], parts[3], headers.lower().split(";"),
                   signature.strip().lower(), amz_date, payload, presigned)


def _canonical_queries(environ: dict[str, Any], presigned: bool) -> list[str]:
    pairs = [(k, v) for k, v in _query_pairs(environ.get("QUERY_STRING", ""))
             if not (presigned and unquote(k) == "X-Amz-Signature")]
    # As the specification says (decode, encode RFC 3986), and as sent (what botocore signs).
    spec = sorted((quote(unquote(k), safe="-_.~"), quote(unquote(v), safe="-_.~"))
                  for k, v in pairs)
    raw = sorted(pairs)
    return list(dict.fromkeys("&".join(f"{k}={v}" for k, v in choice) for choice in (spec, raw)))


def _canonical_paths(environ: dict[str, Any]) -> list[str]:
    raw = environ.get("RAW_URI") or environ.get("REQUEST_URI") or ""
    raw_path = raw.split("?", 1)[0] if raw.startswith("/") else ""
    path = raw_path or quote(environ.get("PATH_INFO", "") or "/", safe="/~")
    # S3 signs the path as sent; every other service encodes it once more.
    return list(dict.fromkeys([path, quote(path, safe="/~")]))


def _signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    key = ("AWS4" + secret).encode()
    for part in (date, region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


def verify(environ: dict[str, Any], body: bytes, creds: Credentials,
           now: dt.datetime | None = None) -> _Signed:
    """The parsed signature of a correctly signed request; AuthError otherwise."""
    signed = _parse(environ, body)
    if not hmac.compare_digest(signed.access_key, creds.access_key):
        raise AuthError("InvalidClientTokenId",
                        "The security token included in the request is invalid.")
    try:
        when = dt.datetime.strptime(signed.amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.UTC)
    except ValueError:
        raise AuthError("IncompleteSignature", "missing or malformed X-Amz-Date") from None
    now = now or dt.datetime.now(dt.UTC)
    if signed.amz_date[:8] != signed.date:
        raise AuthError("SignatureDoesNotMatch", "the credential scope date is not X-Amz-Date's")
    if signed.presigned:
        params = {unquote(k): unquote(v)
                  for k, v in _query_pairs(environ.get("QUERY_STRING", ""))}
        try:
            expires = int(params.get("X-Amz-Expires", "900"))
        except ValueError:
            expires = -1
        if not 0 < expires <= 604800 or now > when + dt.timedelta(seconds=expires):
            raise AuthError("RequestExpired", "the presigned URL has expired")
    elif abs(now - when) > MAX_SKEW:
        raise AuthError("RequestExpired", "Request has expired (signed more than 15 minutes "
                        "from the local cloud's clock)")
    if "host" not in signed.signed_headers:
        raise AuthError("SignatureDoesNotMatch", "the Host header must be signed")
    headers = []
    for name in signed.signed_headers:
        value = _header(environ, name)
        if value is None:
            raise AuthError("SignatureDoesNotMatch", f"signed header {name} is missing")
        headers.append(f"{name}:{' '.join(value.split())}\n")
    key = _signing_key(creds.secret_key, signed.date, signed.region, signed.service)
    scope = f"{signed.date}/{signed.region}/{signed.service}/aws4_request"
    for path in _canonical_paths(environ):
        for query in _canonical_queries(environ, signed.presigned):
            canonical = "\n".join([
                environ.get("REQUEST_METHOD", "GET").upper(), path, query, "".join(headers),
                ";".join(signed.signed_headers), signed.payload_hash])
            to_sign = "\n".join([ALGORITHM, signed.amz_date, scope,
                                 hashlib.sha256(canonical.encode()).hexdigest()])
            expected = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
            if hmac.compare_digest(expected, signed.signature):
                return signed
    raise AuthError("SignatureDoesNotMatch", "The request signature we calculated does not "
                    "match the signature you provided. Check your AWS Secret Access Key and "
                    "signing method.")


def cross_site(environ: dict[str, Any]) -> str | None:
    """Why this looks like a browser request from another site (or a rebound name), or None.
    SDKs and the CLI send neither Origin nor Sec-Fetch-*; browsers send them."""
    if environ.get("REQUEST_METHOD") == "OPTIONS":
        return "CORS preflight requests are refused"
    if environ.get("HTTP_ORIGIN"):
        return "requests with an Origin header (from a web page) are refused"
    fetch_site = environ.get("HTTP_SEC_FETCH_SITE")
    if fetch_site and fetch_site not in ("same-origin", "none"):
        return "cross-site browser requests are refused"
    host = (environ.get("HTTP_HOST") or "").rsplit(":", 1)[0].strip("[]").lower()
    if host and not (host == "localhost" or host.endswith(".localhost") or _is_ip(host)):
        return f"unexpected Host {host!r} (the endpoint answers to its address only)"
    return None


def _is_ip(host: str) -> bool:
    import ipaddress

    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


# --- refusals in each protocol's own error format ----------------------------------------------

EC2_API_VERSION = "2016-11-15"


def refusal(environ: dict[str, Any], body: bytes, error: AuthError,
            service: str | None) -> tuple[str, list[tuple[str, str]], bytes]:
    """(status, headers, body) of AWS's refusal, in the format the caller's SDK parses."""
    request_id = str(uuid.uuid4())
    code, message = error.code, xml_escape(error.message)
    target = environ.get("HTTP_X_AMZ_TARGET")
    query = environ.get("QUERY_STRING", "") + "&" + body[:4096].decode("latin-1")
    if service is None:
        if target:
            service = "json"
        elif "Action=" in query:
            service = "ec2" if f"Version={EC2_API_VERSION}" in query else "query"
        else:
            service = "s3"
    if service == "ec2" and code == "ExpiredToken":
        # Expired session credentials: EC2 says RequestExpired.
        text = ("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error>"
                f"<Code>RequestExpired</Code><Message>{message}</Message></Error></Errors>"
                f"<RequestID>{request_id}</RequestID></Response>")
        return "400 Bad Request", [("Content-Type", "text/xml")], text.encode()
    if service == "ec2":
        # EC2 answers every other credential or signature problem with AuthFailure.
        text = ("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error>"
                "<Code>AuthFailure</Code><Message>AWS was not able to validate the provided "
                f"access credentials ({message})</Message></Error></Errors>"
                f"<RequestID>{request_id}</RequestID></Response>")
        return "401 Unauthorized", [("Content-Type", "text/xml")], text.encode()
    if service == "s3":
        s3_code = {"InvalidClientTokenId": "InvalidAccessKeyId",
                   "MissingAuthenticationToken": "AccessDenied"}.get(code, code)
        text = (f"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{s3_code}</Code>"
                f"<Message>{message}</Message><RequestId>{request_id}</RequestId></Error>")
        return "403 Forbidden", [("Content-Type", "application/xml")], text.encode()
    if target or service == "json":
        json_code = {"InvalidClientTokenId": "UnrecognizedClientException",
                     "SignatureDoesNotMatch": "InvalidSignatureException",
                     "MissingAuthenticationToken": "MissingAuthenticationTokenException"
                     }.get(code, code)
        data = json.dumps({"__type": json_code, "message": error.message}).encode()
        return "400 Bad Request", [("Content-Type", "application/x-amz-json-1.1")], data
    text = ("<ErrorResponse><Error><Type>Sender</Type>"
            f"<Code>{code}</Code><Message>{message}</Message></Error>"
            f"<RequestId>{request_id}</RequestId></ErrorResponse>")
    return "403 Forbidden", [("Content-Type", "text/xml")], text.encode()


def xml_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")

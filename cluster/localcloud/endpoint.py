"""The HTTP endpoint: moto's WSGI app (every service moto has, EC2 first) behind a middleware of
ours that lets in only requests signed with the local cloud's credentials (and never a
browser's cross-site request), answers armed faults, serializes requests with the realizer,
syncs the machine after each change, and serves `/_sclust/*` for `sclust local`."""

from __future__ import annotations

import io
import json
import logging
import os
import re
import threading
import uuid
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qs

from sclust.localcloud import auth, enforcement, identity, shapes
from sclust.localcloud.cloud import Cloud

log = logging.getLogger("sclust.localcloud")
READ_ONLY_PREFIXES = ("Describe", "Get", "List")
MAX_BODY = 64 * 1024 * 1024
# moto's management API: reading its state is allowed with the credentials; resetting it would
# orphan every running host, and the rest (recorder, state manager) the local cloud never needs.
MOTO_API_ALLOWED = {("GET", "/moto-api/data.json")}
_SCOPE = re.compile(r"Credential=[^/,\s]+/\d{8}/[^/]+/([^/]+)/aws4_request")
Response = tuple[str, list[tuple[str, str]], bytes]


class Endpoint:
    """WSGI app: `/_sclust/health` (open), other `/_sclust/*` and everything else signed."""

    def __init__(self, cloud: Cloud, credentials: auth.Credentials,
                 on_shutdown: Callable[[], None]):
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

        self.cloud = cloud
        self.credentials = credentials
        self.moto = DomainDispatcherApplication(create_backend_app)
        self.on_shutdown = on_shutdown

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        status, headers, body = self._handle(environ, start_response)
        if status:
            if not any(k.lower() == "content-length" for k, _ in headers):
                headers = [*headers, ("Content-Length", str(len(body)))]
            start_response(status, headers)
        return [body]

    def _handle(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Response:
        path = environ.get("PATH_INFO", "")
        why = auth.cross_site(environ)
        if why:
            return _json("403 Forbidden", {"ok": False, "error": why})
        body = _read_body(environ)
        if body is None:
            return _json("413 Request Entity Too Large", {"ok": False, "error": "too large"})
        if path == "/_sclust/health":  # liveness only (pid), for `up` and `status`
            return _json("200 OK", {"ok": True, "pid": os.getpid()})
        service = _scope_service(environ)
        try:
            signed, who = self._authenticate(environ, body)
        except auth.AuthError as error:
            log.info("refused %s %s: %s", environ.get("REQUEST_METHOD"), path, error.code)
            return auth.refusal(environ, body, error, service)
        why = shapes.ambiguity(environ, body, signed.service, signed.presigned)
        if why:
            log.info("refused %s %s: %s", environ.get("REQUEST_METHOD"), path, why)
            return auth.refusal(environ, body, auth.AuthError("InvalidRequest", why), service)
        if not who.is_root and (path.startswith(("/_sclust/", "/moto-api"))):
            # The daemon's controls and moto's state are the local cloud's own business.
            return _json("403 Forbidden", {"ok": False, "error": (
                "only the local cloud's own credentials may use this")})
        if not who.is_root and self.cloud.behaviour.iam_enforcement:
            with self.cloud.lock:
                refused = enforcement.refusal_of(
                    who, signed.service, environ, body, self.cloud.settings.region,
                    self._ec2_tags)
            if refused is not None:
                log.info("IAM refused %s to %s", _action(environ, body) or path, who.arn)
                return refused
        if path.startswith("/_sclust/"):
            return self._ours(path, environ, body)
        if path.startswith("/moto-api"):
            if (environ.get("REQUEST_METHOD"), path) not in MOTO_API_ALLOWED:
                return _json("403 Forbidden", {"ok": False, "error": (
                    "not available on the local cloud (a reset would orphan its hosts): "
                    "use `sclust local down` and `up`")})
        action = _action(environ, body)
        fault = self.cloud.faults.for_request(action, signed.service)
        if fault is None and signed.service == "ec2" and action == "RunInstances":
            with self.cloud.lock:
                fault = self.cloud.launch_fault(parse_qs(body.decode(errors="replace")))
        if fault is not None:
            log.info("injected %s into %s", fault.code, action)
            return _ec2_error(fault.status, fault.code, fault.message)
        captured: dict[str, Any] = {}

        def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> None:
            captured["status"] = status
            # moto would let any web page read its answers (CORS): never.
            # A HEAD answer keeps moto's length: S3 says the object's size there (s3fs reads
            # a file of the length HEAD gives); every other length is the body's own.
            head = environ.get("REQUEST_METHOD") == "HEAD"
            captured["headers"] = [(k, v) for k, v in headers
                                   if not k.lower().startswith("access-control-")
                                   and (head or k.lower() != "content-length")]

        with self.cloud.lock:
            # Consume moto's response under the lock: the realizer changes the same objects.
            data = b"".join(self.moto(environ, capture))
        if action and not action.startswith(READ_ONLY_PREFIXES):
            try:
                self.cloud.sync()
            except Exception:  # the request itself succeeded; the periodic sync retries
                log.exception("sync after %s failed", action)
        return captured["status"], captured["headers"], data

    def _authenticate(self, environ: dict[str, Any],
                      body: bytes) -> tuple[Any, identity.Identity]:
        """The verified signature and who made it: the local cloud's own credentials, an IAM
        user's keys or a role session's (with its token); AuthError otherwise."""
        access_key = auth.parse(environ, body).access_key
        with self.cloud.lock:
            who = identity.resolve(access_key, auth.session_token(environ), self.credentials)
        signed = auth.verify(environ, body, auth.Credentials(access_key, who.secret))
        return signed, who

    def _ec2_tags(self, resource_id: str) -> dict[str, str]:
        """Tags of an EC2 resource in moto's state (cloud lock held)."""
        return dict(self.cloud._backend().tags.get(resource_id, {}))

    def _ours(self, path: str, environ: dict[str, Any], body: bytes) -> Response:
        method = environ.get("REQUEST_METHOD")
        try:
            request = json.loads(body) if body else {}
        except ValueError:
            return _json("400 Bad Request", {"ok": False, "error": "body is not JSON"})
        if not isinstance(request, dict):
            return _json("400 Bad Request", {"ok": False, "error": "body is not an object"})
        payload: Any
        if path == "/_sclust/status":
            payload = {"ok": True, "pid": os.getpid(), "region": self.cloud.settings.region,
                       "hosts": self.cloud.host_status()}
        elif path == "/_sclust/shutdown" and method == "POST":
            threading.Thread(target=self.on_shutdown, daemon=True).start()
            payload = {"ok": True}
        elif path == "/_sclust/settings":
            if method == "POST":
                try:
                    with self.cloud.lock:
                        self.cloud.behaviour.update(request)
                except ValueError as error:
                    return _json("400 Bad Request", {"ok": False, "error": str(error)})
                log.info("settings now %s", self.cloud.behaviour)
            payload = {"ok": True, "settings": vars(self.cloud.behaviour)}
        elif path == "/_sclust/faults":
            if method == "POST" and request.get("kind") == "spot-interruption":
                try:
                    notice = request.get("notice", 120)
                    if not isinstance(notice, (int, float)) or isinstance(notice, bool):
                        raise ValueError("notice must be a number of seconds")
                    done = self.cloud.interrupt_spot(str(request.get("instance")),
                                                     str(request.get("action", "terminate")),
                                                     float(notice))
                except ValueError as error:
                    return _json("400 Bad Request", {"ok": False, "error": str(error)})
                payload = {"ok": True, "fault": {"id": 0, **done}}
            elif method == "POST":
                try:
                    fault = self.cloud.faults.arm(request)
                except ValueError as error:
                    return _json("400 Bad Request", {"ok": False, "error": str(error)})
                log.info("armed fault %s", fault.public())
                payload = {"ok": True, "fault": fault.public()}
            elif method == "DELETE":
                fault_id = request.get("id")
                if fault_id is not None and not isinstance(fault_id, int):
                    return _json("400 Bad Request", {"ok": False, "error": "id must be a number"})
                payload = {"ok": True, "cleared": self.cloud.faults.clear(fault_id)}
            else:
                payload = {"ok": True, "faults": self.cloud.faults.listing()}
        else:
            return _json("404 Not Found", {"ok": False})
        return _json("200 OK", payload)


def _json(status: str, payload: Any) -> Response:
    return status, [("Content-Type", "application/json")], json.dumps(payload).encode()


def _ec2_error(status: int, code: str, message: str) -> Response:
    reason = {400: "Bad Request", 500: "Internal Server Error", 503: "Service Unavailable"}
    text = ("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error>"
            f"<Code>{code}</Code><Message>{auth.xml_escape(message)}</Message></Error></Errors>"
            f"<RequestID>{uuid.uuid4()}</RequestID></Response>")
    return f"{status} {reason.get(status, 'Error')}", [("Content-Type", "text/xml")], text.encode()


def _read_body(environ: dict[str, Any]) -> bytes | None:
    """The whole request body (put back for moto), or None when too large."""
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > MAX_BODY:
        return None
    stream = environ["wsgi.input"]
    if length > 0:
        body = stream.read(length)
    elif environ.get("wsgi.input_terminated"):
        body = stream.read(MAX_BODY + 1)
        if len(body) > MAX_BODY:
            return None
    else:
        body = b""
    environ["wsgi.input"] = io.BytesIO(body)
    return body


def _scope_service(environ: dict[str, Any]) -> str | None:
    """The service named in the request's credential scope, if it has one."""
    match = _SCOPE.search(environ.get("HTTP_AUTHORIZATION", ""))
    if match:
        return match.group(1)
    query = parse_qs(environ.get("QUERY_STRING", ""))
    credential = query.get("X-Amz-Credential", [""])[0].split("/")
    return credential[3] if len(credential) == 5 else None


def _action(environ: dict[str, Any], body: bytes) -> str | None:
    """The EC2/query-protocol Action of a request."""
    query = parse_qs(environ.get("QUERY_STRING", ""))
    if "Action" in query:
        return query["Action"][0]
    if not body:
        return None
    if b"Action=" not in body:
        return "Unknown"  # JSON protocols (other services): assume it may change something
    return parse_qs(body.decode(errors="replace")).get("Action", ["Unknown"])[0]

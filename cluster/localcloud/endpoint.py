"""The HTTP endpoint: moto's WSGI app (every service moto has, EC2 first) behind a thin
middleware of ours that serializes requests with the realizer, syncs the machine after each
change, and serves `/_sclust/*` (health, status) for `sclust local`."""

from __future__ import annotations

import io
import json
import logging
import os
import threading
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qs

from sclust.localcloud.cloud import Cloud

log = logging.getLogger("sclust.localcloud")
log = logging.getLogger("sclust.localcloud")
READ_ONLY_PREFIXES = ("Describe", "Get", "List")


class Endpoint:
    """WSGI app: `/_sclust/health`, `/_sclust/status`, else moto."""

    def __init__(self, cloud: Cloud, on_shutdown: Callable[[], None]):
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

        self.cloud = cloud
        self.moto = DomainDispatcherApplication(create_backend_app)
        self.on_shutdown = on_shutdown

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path.startswith("/_sclust/"):
            return self._ours(path, environ, start_response)
        action = _action(environ)
        with self.cloud.lock:
            # Consume moto's response under the lock: the realizer changes the same objects.
            body = b"".join(self.moto(environ, start_response))
        if action and not action.startswith(READ_ONLY_PREFIXES):
            try:
                self.cloud.sync()
            except Exception:  # the request itself succeeded; the periodic sync retries
                log.exception("sync after %s failed", action)
        return [body]

    def _ours(
        self, path: str, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        if path == "/_sclust/health":
            payload: Any = {"ok": True, "pid": os.getpid()}
        elif path == "/_sclust/status":
            payload = {"ok": True, "pid": os.getpid(), "region": self.cloud.settings.region,
                       "hosts": self.cloud.host_status()}
        elif path == "/_sclust/shutdown" and environ.get("REQUEST_METHOD") == "POST":
            threading.Thread(target=self.on_shutdown, daemon=True).start()
            payload = {"ok": True}
        else:
            start_response("404 Not Found", [("Content-Type", "application/json")])
            return [b'{"ok": false}']
        data = json.dumps(payload).encode()
        start_response("200 OK", [("Content-Type", "application/json"),
                                  ("Content-Length", str(len(data)))])
        return [data]


def _action(environ: dict[str, Any]) -> str | None:
    """The EC2/query-protocol Action of a request; the body is put back for moto."""
    query = parse_qs(environ.get("QUERY_STRING", ""))
    if "Action" in query:
        return query["Action"][0]
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length <= 0:
        return None
    body = environ["wsgi.input"].read(length)
    environ["wsgi.input"] = io.BytesIO(body)
    if b"Action=" not in body:
        return "Unknown"  # JSON protocols (other services): assume it may change something
    return parse_qs(body.decode(errors="replace")).get("Action", ["Unknown"])[0]

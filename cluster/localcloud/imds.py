"""Instance metadata (IMDSv2) at 169.254.169.254 inside every host.

The address sits on each host's own `lo`; the daemon listens there from inside the host's
network namespace (a socket made after `setns` in a short-lived thread), one small server per
running host. The socket a request arrives on says which instance asks: a host cannot ask as
another. Tokens (PUT /latest/api/token) are per instance; IMDSv1 (no token) is refused when the
instance was launched with HttpTokens=required, as on EC2."""

from __future__ import annotations

import ctypes
import datetime as dt
import json
import logging
import os
import secrets
import socket
import threading
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sclust.localcloud.cloud import Cloud

log = logging.getLogger("sclust.localcloud")
ADDRESS = "169.254.169.254"
CLONE_NEWNET = 0x40000000
MAX_TTL = 21600


def listen_in_netns(netns: str, address: str, port: int) -> socket.socket:
    """A listening TCP socket at address:port inside network namespace `netns`."""
    result: dict[str, Any] = {}

    def work() -> None:  # setns changes only this thread, which ends right after
        libc = ctypes.CDLL(None, use_errno=True)
        target = os.open(f"/run/netns/{netns}", os.O_RDONLY)
        try:
            if libc.setns(target, CLONE_NEWNET) != 0:
                raise OSError(ctypes.get_errno(), f"setns into {netns} failed")
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((address, port))
            sock.listen(64)
            result["socket"] = sock
        except Exception as error:
            result["error"] = error
        finally:
            os.close(target)

    thread = threading.Thread(target=work, name=f"setns-{netns}")
    thread.start()
    thread.join()
    if "error" in result:
        raise result["error"]
    return result["socket"]


class MetadataService:
    """One IMDS server per running host; answers from moto's instance, read under the lock."""

    def __init__(self, cloud: Cloud):
        self.cloud = cloud
        self._servers: dict[str, Any] = {}
        self._tokens: dict[str, dict[str, float]] = {}
        self._lock = threading.Lock()
        # instance id → {"action": ..., "time": ...}: the spot interruption notice
        self.spot_actions: dict[str, dict[str, str]] = {}
        # instance id → (role ARN, issued at, moto's session): its instance profile's role
        # credentials, kept until a sixth of their life has passed
        self._sessions: dict[str, tuple[str, dt.datetime, Any]] = {}

    def start_for(self, instance_id: str, netns: str) -> None:
        from werkzeug.serving import make_server

        self.stop_for(instance_id)
        sock = listen_in_netns(netns, ADDRESS, 80)
        try:
            server = make_server(ADDRESS, 80, self._app(instance_id), threaded=True,
                                 fd=sock.fileno())
        finally:
            sock.close()  # werkzeug holds its own duplicate
        with self._lock:
            self._servers[instance_id] = server
        # A short poll: stop_for (halt, reboot) waits for the loop to notice.
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1},
                         name=f"imds-{instance_id}", daemon=True).start()

    def stop_for(self, instance_id: str) -> None:
        with self._lock:
            server = self._servers.pop(instance_id, None)
            self._tokens.pop(instance_id, None)
        if server is not None:
            server.shutdown()
            server.server_close()

    def stop_all(self) -> None:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=16) as pool:
            list(pool.map(self.stop_for, list(self._servers)))

    # --- the HTTP side ------------------------------------------------------------------------
    def _app(self, instance_id: str) -> Callable[..., Iterable[bytes]]:
        def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
            status, body, headers = self._answer(instance_id, environ)
            start_response(status, [("Content-Type", "text/plain"),
                                    ("Content-Length", str(len(body))), *headers])
            return [body]
        return app

    def _answer(self, instance_id: str, environ: dict[str, Any]
                ) -> tuple[str, bytes, list[tuple[str, str]]]:
        method = environ.get("REQUEST_METHOD", "GET")
        path = environ.get("PATH_INFO", "/")
        with self.cloud.lock:
            try:
                instance = self.cloud._backend().get_instance(instance_id)
            except Exception:
                return "404 Not Found", b"", []
            options = instance.metadata_options
            if options.http_endpoint == "disabled":
                return "403 Forbidden", b"", []
            if method == "PUT" and path == "/latest/api/token":
                if environ.get("HTTP_X_FORWARDED_FOR"):
                    return "403 Forbidden", b"", []
                try:
                    ttl = int(environ.get("HTTP_X_AWS_EC2_METADATA_TOKEN_TTL_SECONDS", ""))
                except ValueError:
                    ttl = 0
                if not 1 <= ttl <= MAX_TTL:
                    return "400 Bad Request", b"", []
                token = secrets.token_urlsafe(42)
                with self._lock:
                    tokens = self._tokens.setdefault(instance_id, {})
                    now = time.monotonic()
                    for old in [t for t, until in tokens.items() if until < now]:
                        del tokens[old]
                    tokens[token] = now + ttl
                return "200 OK", token.encode(), [
                    ("X-Aws-Ec2-Metadata-Token-Ttl-Seconds", str(ttl))]
            if method not in ("GET", "HEAD"):
                return "405 Method Not Allowed", b"", []
            presented = environ.get("HTTP_X_AWS_EC2_METADATA_TOKEN")
            if presented is not None:
                with self._lock:
                    until = self._tokens.get(instance_id, {}).get(presented)
                if until is None or until < time.monotonic():
                    return "401 Unauthorized", b"", []
            elif options.http_tokens == "required":
                return "401 Unauthorized", b"", []
            return self._get(instance, path)

    def _get(self, instance: Any, path: str) -> tuple[str, bytes, list[tuple[str, str]]]:
        if path in ("/", ""):
            return "200 OK", b"latest", []
        if path in ("/latest", "/latest/"):
            return "200 OK", b"dynamic\nmeta-data\nuser-data", []
        if path == "/latest/user-data":
            data = self._user_data(instance)
            return ("200 OK", data, []) if data else ("404 Not Found", b"", [])
        if path == "/latest/dynamic/instance-identity/document":
            return "200 OK", json.dumps(self._identity(instance), indent=2).encode(), []
        if path.startswith("/latest/meta-data"):
            node: Any = self._tree(instance)
            for part in [p for p in path.removeprefix("/latest/meta-data").split("/") if p]:
                if not isinstance(node, dict) or part not in node:
                    return "404 Not Found", b"", []
                node = node[part]
            if isinstance(node, dict):
                listing = [k + "/" if isinstance(v, dict) else k for k, v in node.items()]
                return "200 OK", "\n".join(listing).encode(), []
            return "200 OK", str(node).encode(), []
        return "404 Not Found", b"", []

    @staticmethod
    def _user_data(instance: Any) -> bytes:
        import base64

        data = instance.user_data
        if isinstance(data, list):
            data = data[0] if data else None
        return base64.b64decode(data.as_bytes()) if data is not None else b""

    def _identity(self, instance: Any) -> dict[str, Any]:
        return {
            "accountId": instance.ec2_backend.account_id,
            "architecture": instance.architecture,
            "availabilityZone": instance.availability_zone,
            "imageId": instance.image_id,
            "instanceId": instance.id,
            "instanceType": instance.instance_type,
            "pendingTime": instance.launch_time.strftime("%Y-%m-%dT%H:%M:%SZ")
            if hasattr(instance.launch_time, "strftime") else str(instance.launch_time),
            "privateIp": instance.private_ip,
            "region": self.cloud.settings.region,
            "version": "2017-09-30",
        }

    def _tree(self, instance: Any) -> dict[str, Any]:
        eni = instance.nics.get(0)
        private_dns = f"ip-{str(instance.private_ip).replace('.', '-')}.ec2.internal"
        tree: dict[str, Any] = {
            "ami-id": instance.image_id,
            "ami-launch-index": str(instance.ami_launch_index),
            "hostname": private_dns,
            "instance-id": instance.id,
            "instance-life-cycle": "spot" if instance.lifecycle == "spot" else "on-demand",
            "instance-type": instance.instance_type,
            "local-hostname": private_dns,
            "local-ipv4": instance.private_ip,
            "mac": eni.mac_address if eni is not None else "",
            "placement": {"availability-zone": instance.availability_zone,
                          "region": self.cloud.settings.region},
            "security-groups": "\n".join(g.name for g in instance.security_groups),
            "services": {"domain": "amazonaws.com", "partition": "aws"},
            "block-device-mapping": {"ami": instance.root_device_name,
                                     "root": instance.root_device_name},
        }
        if instance.public_ip:
            tree["public-ipv4"] = instance.public_ip
            tree["public-hostname"] = f"ec2-{instance.public_ip.replace('.', '-')}" \
                ".compute-1.amazonaws.com"
        iam = self._iam(instance)
        if iam is not None:
            tree["iam"] = iam
        if instance.metadata_options.instance_metadata_tags == "enabled":
            tree["tags"] = {"instance": {t["key"]: t["value"] for t in instance.get_tags()}}
        action = self.spot_actions.get(instance.id)
        if action is not None:
            tree["spot"] = {"instance-action": json.dumps(action),
                            "termination-time": action["time"]}
        return tree

    def _iam(self, instance: Any) -> dict[str, Any] | None:
        """iam/info and iam/security-credentials/ROLE of an instance launched with an instance
        profile: temporary credentials of the profile's role (cloud lock held)."""
        from sclust.localcloud import identity

        association = instance.ec2_backend.iam_instance_profile_associations.get(instance.id)
        profile = association.iam_instance_profile if association is not None else None
        if profile is None:
            return None
        now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
        stamp = "%Y-%m-%dT%H:%M:%SZ"
        info = {"Code": "Success", "LastUpdated": now.strftime(stamp),
                "InstanceProfileArn": profile.arn, "InstanceProfileId": profile.id}
        tree: dict[str, Any] = {"info": json.dumps(info, indent=2)}
        if not profile.roles:
            return tree
        role = profile.roles[0]
        seconds = self.cloud.settings.role_session_seconds
        held = self._sessions.get(instance.id)
        if held is None or held[0] != role.arn \
                or identity.needs_new_session(held[1], now, seconds):
            session = identity.issue_session(instance.ec2_backend.account_id,
                                             self.cloud.settings.region, role.arn,
                                             instance.id, seconds)
            held = (role.arn, now, session)
            self._sessions[instance.id] = held
        _, issued, session = held
        credentials = {
            "Code": "Success", "LastUpdated": issued.strftime(stamp), "Type": "AWS-HMAC",
            "AccessKeyId": session.access_key_id, "SecretAccessKey": session.secret_access_key,
            "Token": session.session_token, "Expiration": session.expiration.strftime(stamp)}
        tree["security-credentials"] = {role.name: json.dumps(credentials, indent=2)}
        return tree

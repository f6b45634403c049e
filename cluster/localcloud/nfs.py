"""NFS, emulated (the kernel here has no NFS): the `exportfs` and `mount.nfs` shims in every host
ask this service, over a unix socket, to do what NFS would. An export table per server host
comes from its /etc/exports at `exportfs -ra` (and at boot); a permitted mount is a bind of the
server's directory into the client's mount namespace (open_tree + move_mount), so every client
sees the server's very files with their uids and permissions."""

from __future__ import annotations

import json
import logging
import os
import socket
import struct
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sclust.localcloud import kernel, volmount
from sclust.localcloud.exports import Export, find_export, hosts_table, parse_exports
from sclust.localcloud.settings import HOST_ID_BASE

if TYPE_CHECKING:
    from sclust.localcloud.cloud import Cloud
    from sclust.localcloud.hosts import Host

log = logging.getLogger("sclust.localcloud.nfs")



class NfsService:
    def __init__(self, cloud: Cloud):
        self.cloud = cloud
        self.path = cloud.layout.nfs_socket
        self.exports: dict[str, list[Export]] = {}  # server instance id → its export table
        self._sock: socket.socket | None = None

    # --- server ------------------------------------------------------------------------------
    def start(self) -> None:
        self.path.unlink(missing_ok=True)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.bind(str(self.path))
        os.chmod(self.path, 0o666)  # any user in a host may run `mount` (it then fails as non-root)
        sock.listen(64)
        self._sock = sock
        threading.Thread(target=self._accept, name="nfs", daemon=True).start()

    def stop(self) -> None:
        if self._sock is not None:
            self._sock.close()
        self.path.unlink(missing_ok=True)

    def _accept(self) -> None:
        assert self._sock is not None
        while True:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            try:
                creds = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED,
                                        struct.calcsize("3i"))
                pid, uid, _gid = struct.unpack("3i", creds)
                data = b""
                while not data.endswith(b"\n") and len(data) < 65536:
                    chunk = conn.recv(4096)
                    if not chunk:
                        break
                    data += chunk
                request = json.loads(data)
                answer = self.handle(pid, uid, request)
            except Exception as exc:  # answer something: the shim must not hang
                log.exception("NFS request failed")
                answer = {"ok": False, "message": f"internal error: {exc}"}
            conn.sendall(json.dumps(answer).encode() + b"\n")

    def host_of_pid(self, pid: int) -> Host | None:
        try:
            ns = os.readlink(f"/proc/{pid}/ns/mnt")
        except OSError:
            return None
        return next((h for h in self.cloud.running_hosts() if h.mount_namespace() == ns), None)

    # --- operations --------------------------------------------------------------------------
    def handle(self, pid: int, uid: int, request: dict[str, Any]) -> dict[str, Any]:
        host = self.host_of_pid(pid)
        if host is None:
            return {"ok": False, "message": "request from outside any local host"}
        if uid != HOST_ID_BASE:  # root of a host, as the machine sees it
            return {"ok": False, "message": "only root can do that"}
        op = request.get("op")
        if op == "exportfs":
            return self.load_exports(host)
        if op == "unexport_all":
            self.exports.pop(host.spec.instance_id, None)
            return {"ok": True}
        if op == "list":
            lines = []
            for export in self.exports.get(host.spec.instance_id, []):
                for rule in export.clients:
                    verbose = request.get("verbose") and rule.options
                    opts = f"({','.join(rule.options)})" if verbose else ""
                    lines.append(f"{export.path:<15}\t{rule.spec or '<world>'}{opts}\n")
            return {"ok": True, "output": "".join(lines)}
        if op == "mount":
            return self.mount(host, request)
        if op == "mount_volume":
            return volmount.mount_volume(host, request)
        if op == "resize_volume":
            return volmount.resize_volume(host, request)
        return {"ok": False, "message": f"unknown request {op!r}"}

    def load_exports(self, host: Host) -> dict[str, Any]:
        """`exportfs -ra`: the table becomes what /etc/exports says (paths that exist)."""
        try:
            text = host.read_text("/etc/exports")
        except FileNotFoundError:
            text = ""
        except OSError as error:
            return {"ok": False, "message": f"/etc/exports: {error.strerror}"}
        exports, warnings = parse_exports(text)
        kept = []
        for export in exports:
            if host.is_dir(export.path):
                kept.append(export)
            else:
                warnings.append(f"Failed to stat {export.path}: No such file or directory")
        self.exports[host.spec.instance_id] = kept
        log.info("exports of %s: %s", host.spec.instance_id, [e.path for e in kept])
        return {"ok": True, "message": "\n".join(warnings)}

    def forget(self, instance_id: str) -> None:
        self.exports.pop(instance_id, None)

    def mount(self, client: Host, request: dict[str, Any]) -> dict[str, Any]:
        server_ip, path, target = request["server_ip"], request["path"], request["target"]
        spec = f"{request.get('server', server_ip)}:{path}"
        server = next((h for h in self.cloud.running_hosts()
                       if server_ip == h.spec.private_ip or server_ip in h.public_ips), None)
        if server is None:
            return {"ok": False, "message": "Connection timed out"}
        export = find_export(self.exports.get(server.spec.instance_id, []), path)
        names_of = _server_names(server)
        client_ips = {client.spec.private_ip} | client.public_ips
        client_names = {name for name, ips in names_of.items() if ips & client_ips}
        rule = None
        if export is not None:
            rule = next((r for r in export.clients
                         if r.matches(client_ips, client_names, names_of)), None)
        if rule is None:
            log.info("refused %s to %s", spec, client.spec.instance_id)
            return {"ok": False, "message": f"access denied by server while mounting {spec}"}
        options = set(filter(None, str(request.get("options", "")).split(",")))
        read_only = rule.read_only or "ro" in options or bool(request.get("read_only"))
        if _already_mounted(client, path, target):
            return {"ok": True}
        assert export is not None and server.pid1 is not None and client.pid1 is not None
        failure = bind_between(server.pid1, export.path, path, client.pid1, target, read_only)
        if failure:
            return {"ok": False,
                    "message": f"mounting {spec} failed, reason given by server: {failure}"}
        log.info("mounted %s on %s:%s%s", spec, client.spec.instance_id, target,
                 " (ro)" if read_only else "")
        return {"ok": True}


def _server_names(server: Host) -> dict[str, set[str]]:
    try:
        return hosts_table(server.read_text("/etc/hosts"))
    except OSError:
        return {}


def _already_mounted(client: Host, path: str, target: str) -> bool:
    """`mount -a` runs mount.nfs again for entries it cannot recognize as mounted (ours show
    as overlay): a second identical mount is a no-op instead of a stacked one."""
    try:
        mountinfo = Path(f"/proc/{client.pid1}/mountinfo").read_text()
    except OSError:
        return False
    for line in mountinfo.splitlines():
        fields = line.split()
        if len(fields) > 4 and fields[4] == target and fields[3] == (path.rstrip("/") or "/"):
            return True
    return False


def bind_between(server_pid1: int, export: str, path: str, client_pid1: int, target: str,
                 read_only: bool) -> str | None:
    """Clone `path` (inside `export`) of the server's mount namespace onto `target` in the
    client's, each resolved inside its own host, and `path` never outside `export` (a symlink
    in the export cannot lead elsewhere on the server). Returns an error text or None."""
    relative = path.rstrip("/")[len(export.rstrip("/")):].lstrip("/") or "."
    server_ns = os.open(f"/proc/{server_pid1}/ns/mnt", os.O_RDONLY)
    try:
        client_ns = os.open(f"/proc/{client_pid1}/ns/mnt", os.O_RDONLY)
    except OSError:
        os.close(server_ns)
        raise

    def bind() -> None:
        kernel.setns(server_ns, kernel.CLONE_NEWNS)
        top = os.open(export, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
        inside = kernel.open_beneath(top, relative, os.O_PATH | os.O_DIRECTORY)
        tree = kernel.open_tree("", kernel.OPEN_TREE_CLONE | kernel.OPEN_TREE_CLOEXEC
                                | kernel.AT_EMPTY_PATH, dirfd=inside)
        # Never device nodes through a share (a volume a host crafted could hold some).
        kernel.mount_setattr(tree, kernel.MOUNT_ATTR_NODEV
                             | (kernel.MOUNT_ATTR_RDONLY if read_only else 0))
        kernel.setns(client_ns, kernel.CLONE_NEWNS)
        kernel.move_mount(tree, target)

    try:
        return kernel.in_child(bind)
    finally:
        os.close(server_ns)
        os.close(client_ns)

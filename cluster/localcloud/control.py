"""`sclust local up | down | status` as functions: start the daemon (after checking the
machine), stop it and prove nothing is left, and report what runs."""

from __future__ import annotations

import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from sclust.localcloud.errors import AnotherCloudRunning, LocalCloudError, RequirementMissing
from sclust.localcloud.settings import MACHINE_LOCK, Layout, LocalEndpoint, state_dir

START_TIMEOUT = 60.0
STOP_TIMEOUT = 120.0

# command → Debian package that provides it
REQUIRED_COMMANDS = {
    "ip": "iproute2", "nsenter": "util-linux", "unshare": "util-linux", "losetup": "mount",
    "findmnt": "util-linux", "mount": "mount", "pivot_root": "util-linux",
    "sshd": "openssh-server", "ssh-keygen": "openssh-client", "mkfs.ext4": "e2fsprogs",
    "useradd": "passwd", "sudo": "sudo",
}
SBIN = ("/usr/sbin", "/sbin", "/usr/bin", "/bin")


def missing_requirements() -> list[str]:
    """What this machine lacks, each as 'thing (how to get it)'."""
    missing = []
    if platform.system() != "Linux":
        return [f"Linux (this is {platform.system()})"]
    if os.geteuid() != 0:
        missing.append("root (run as root)")
    search = ":".join((*SBIN, os.environ.get("PATH", "")))
    packages = sorted({pkg for cmd, pkg in REQUIRED_COMMANDS.items()
                       if not shutil.which(cmd, path=search)})
    if packages:
        missing.append(f"packages {' '.join(packages)} (apt-get install {' '.join(packages)})")
    proc_fs = Path("/proc/filesystems")
    filesystems = proc_fs.read_text() if proc_fs.exists() else ""
    if "overlay" not in filesystems and not _module_available("overlay"):
        missing.append("overlayfs in the kernel (modprobe overlay)")
    if not Path("/dev/loop-control").exists():
        missing.append("loop devices (/dev/loop-control; modprobe loop)")
    if not Path("/proc/self/ns/net").exists():
        missing.append("namespaces in the kernel")
    # Hosts live in user namespaces over idmapped mounts of / (overlayfs on idmapped layers).
    if _kernel_version() < (5, 19):
        missing.append("Linux 5.19 or later (idmapped mounts under overlayfs)")
    max_userns = Path("/proc/sys/user/max_user_namespaces")
    if max_userns.exists() and max_userns.read_text().strip() == "0":
        missing.append("user namespaces (sysctl user.max_user_namespaces is 0)")
    for module in ("moto", "flask", "werkzeug"):
        if not _python_module(module):
            missing.append(f"python module {module} (pip install 'moto[ec2,server]')")
    return missing


def _kernel_version() -> tuple[int, int]:
    release = os.uname().release
    try:
        major, minor = release.split(".")[:2]
        return int(major), int("".join(c for c in minor if c.isdigit()) or 0)
    except ValueError:
        return (0, 0)


def _module_available(name: str) -> bool:
    return subprocess.run(["modprobe", "-n", name], capture_output=True).returncode == 0 \
        if shutil.which("modprobe") else False


def _python_module(name: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(name) is not None


def _read_endpoint(layout: Layout) -> dict[str, Any] | None:
    try:
        return json.loads(layout.endpoint_file.read_text())
    except (OSError, ValueError):
        return None


def _daemon_pid(layout: Layout) -> int | None:
    """The daemon's pid if one runs from this state dir (checked against its command line)."""
    try:
        pid = int(layout.pid_file.read_text().strip())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except (OSError, ValueError):
        return None
    if b"sclust.localcloud.daemon" in cmdline and str(layout.root).encode() in cmdline:
        return pid
    return None


def _get(url: str, timeout: float = 2.0) -> dict[str, Any] | None:
    import urllib.request  # not at module level: `sclust --help` must stay fast

    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return json.loads(response.read())
    except (OSError, ValueError):
        return None


def signed_request(endpoint: LocalEndpoint, method: str, path: str,
                   payload: dict[str, Any] | None = None,
                   timeout: float = 10.0) -> dict[str, Any]:
    """A request to the daemon's own API (`/_sclust/…`), signed with the cloud's credentials
    (SigV4, service `sclust`). Its JSON answer; LocalCloudError if refused."""
    import urllib.error
    import urllib.request

    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    url = endpoint.url + path
    body = json.dumps(payload).encode() if payload is not None else b""
    request = AWSRequest(method=method, url=url, data=body,
                         headers={"Content-Type": "application/json"})
    SigV4Auth(Credentials(endpoint.access_key, endpoint.secret_key), "sclust",
              endpoint.region).add_auth(request)
    prepared = urllib.request.Request(url, data=body or None, method=method,
                                      headers=dict(request.headers.items()))
    try:
        with urllib.request.urlopen(prepared, timeout=timeout) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as error:
        detail = error.read().decode(errors="replace")[:300]
        try:
            detail = json.loads(detail).get("error", detail)
        except (ValueError, AttributeError):
            pass
        raise LocalCloudError(f"the local cloud refused {method} {path}: {detail}") from None
    except (OSError, ValueError) as error:
        raise LocalCloudError(f"the local cloud did not answer {method} {path}: {error}") \
            from None


def _credentials(layout: Layout) -> tuple[str, str]:
    from sclust.localcloud.auth import load_credentials

    creds = load_credentials(layout.credentials_file)
    if creds is None:
        why = ("only its owner (root) may drive it" if layout.credentials_file.exists()
               else "it is missing (a local cloud started by an older sclust? "
               "`sclust local down`, then `up`)")
        raise LocalCloudError(f"cannot read {layout.credentials_file}: {why}")
    return creds.access_key, creds.secret_key


def running_endpoint(layout: Layout) -> LocalEndpoint | None:
    """The endpoint of a healthy daemon of this state dir, or None.
    Cheap: one file, /proc, one local GET."""
    info = _read_endpoint(layout)
    pid = _daemon_pid(layout)
    if info is None or pid is None or info.get("pid") != pid:
        return None
    health = _get(info["url"] + "/_sclust/health")
    if not health or health.get("pid") != pid:
        return None
    access_key, secret_key = _credentials(layout)
    return LocalEndpoint(info["url"], info["region"], access_key, secret_key)


def _other_cloud() -> str | None:
    """State dir of a local cloud from another directory holding the machine lock, if any."""
    import fcntl

    if not MACHINE_LOCK.exists():
        return None
    fd = os.open(MACHINE_LOCK, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        return None
    except BlockingIOError:
        return MACHINE_LOCK.read_text().strip() or "unknown"
    finally:
        os.close(fd)


def up(directory: Path | None = None) -> LocalEndpoint:
    """Start the local cloud if it is not running; return its endpoint (idempotent)."""
    layout = Layout(state_dir(directory))
    endpoint = running_endpoint(layout)
    if endpoint is not None:
        return endpoint
    missing = missing_requirements()
    if missing:
        raise RequirementMissing("the local cloud needs " + "; ".join(missing))
    other = _other_cloud()
    if other is not None and other != str(layout.root):
        raise AnotherCloudRunning(f"another local cloud runs on this machine (state dir {other}); "
                                  f"stop it first: SCLUST_LOCAL_DIR={other} sclust local down")
    from sclust.localcloud.network import routes_colliding_with_ours

    colliding = routes_colliding_with_ours()
    if colliding:
        raise LocalCloudError("this machine routes part of the local cloud's ranges "
                              f"(172.31.0.0/16, 198.18.0.0/16) elsewhere: {colliding[0]}")
    layout.root.mkdir(parents=True, exist_ok=True)
    from sclust.localcloud.auth import ensure_credentials

    ensure_credentials(layout.credentials_file)  # the daemon verifies signatures with these
    if _daemon_pid(layout) is not None:  # alive but not answering: wait for it below
        pid = _daemon_pid(layout)
    else:
        pid = _spawn(layout)
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        endpoint = running_endpoint(layout)
        if endpoint is not None:
            return endpoint
        if pid is None or not Path(f"/proc/{pid}").exists() or _is_zombie(pid):
            # Ours died; another `up` of this same state dir may have won the race.
            pid = _daemon_pid(layout)
            if pid is None:
                raise LocalCloudError(f"the local cloud daemon exited: {_log_tail(layout)}")
        time.sleep(0.1)
    raise LocalCloudError(
        f"the local cloud did not answer within {START_TIMEOUT:.0f} s: {_log_tail(layout)}")


def _spawn(layout: Layout) -> int:
    package_root = Path(__file__).resolve().parents[2]
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(package_root), env.get("PYTHONPATH")]))
    with open(layout.log_file, "ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "sclust.localcloud.daemon", "--state-dir", str(layout.root)],
            stdin=subprocess.DEVNULL, stdout=log, stderr=log, cwd="/", env=env,
            start_new_session=True,
        )
    return proc.pid


def _is_zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def _log_tail(layout: Layout, lines: int = 3) -> str:
    try:
        text = layout.log_file.read_text(errors="replace").strip().splitlines()
    except OSError:
        return "(no log)"
    return " | ".join(text[-lines:]) + f" (log: {layout.log_file})"


def down(directory: Path | None = None) -> list[str]:
    """Stop the daemon (it removes every host), recover anything left by a crash, and return
    what is still on the machine (empty: nothing is left)."""
    from sclust.localcloud import cleanup
    from sclust.localcloud.journal import Journal

    layout = Layout(state_dir(directory))
    pid = _daemon_pid(layout)
    if pid is not None:
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT
        while Path(f"/proc/{pid}").exists() and not _is_zombie(pid):
            if time.monotonic() > deadline:
                os.kill(pid, signal.SIGKILL)
                break
            time.sleep(0.05)
        try:
            os.waitpid(pid, os.WNOHANG)  # reap it if we happen to be its parent
        except ChildProcessError:
            pass
    other = _other_cloud()
    if other is not None and other != str(layout.root):
        raise AnotherCloudRunning(f"the running local cloud is another one (state dir {other})")
    if not layout.root.exists():
        return []
    journal = Journal(layout.journal_file)
    left = cleanup.leftovers(layout, journal)
    if left or not journal.empty():
        left = cleanup.recover(layout)
    layout.endpoint_file.unlink(missing_ok=True)
    layout.pid_file.unlink(missing_ok=True)
    return left


def status(directory: Path | None = None) -> dict[str, Any]:
    """{'running', 'endpoint', 'region', 'state_dir', 'hosts': [...]}."""
    layout = Layout(state_dir(directory))
    endpoint = running_endpoint(layout)
    if endpoint is None:
        return {"running": False, "endpoint": None, "region": None,
                "state_dir": str(layout.root), "hosts": []}
    answer = signed_request(endpoint, "GET", "/_sclust/status")
    return {"running": True, "endpoint": endpoint.url, "region": endpoint.region,
            "state_dir": str(layout.root), "credentials_file": str(layout.credentials_file),
            "access_key": endpoint.access_key, "secret_key": endpoint.secret_key,
            "hosts": answer.get("hosts", [])}


def _running(directory: Path | None) -> LocalEndpoint:
    endpoint = running_endpoint(Layout(state_dir(directory)))
    if endpoint is None:
        raise LocalCloudError("the local cloud is not running (start it: sclust local up)")
    return endpoint


def configure(directory: Path | None = None, **changes: Any) -> dict[str, Any]:
    """Change how hard the running cloud is (`validation`, `consistency_delay`); returns the
    settings now in force. Without changes, only reads them."""
    endpoint = _running(directory)
    if changes:
        return signed_request(endpoint, "POST", "/_sclust/settings", changes)["settings"]
    return signed_request(endpoint, "GET", "/_sclust/settings")["settings"]


def inject(spec: dict[str, Any], directory: Path | None = None) -> dict[str, Any]:
    """Arm a fault (see sclust.localcloud.faults); returns it with its id."""
    return signed_request(_running(directory), "POST", "/_sclust/faults", spec)["fault"]


def faults(directory: Path | None = None) -> list[dict[str, Any]]:
    return signed_request(_running(directory), "GET", "/_sclust/faults")["faults"]


def clear_faults(directory: Path | None = None, fault_id: int | None = None) -> int:
    """Disarm one fault (or all); how many were disarmed."""
    payload = {"id": fault_id} if fault_id is not None else {}
    return signed_request(_running(directory), "DELETE", "/_sclust/faults", payload)["cleared"]

"""What runs on a desktop: a VNC server on localhost, noVNC over HTTPS, the auto-stop timer.

    script = desktop_setup_script(password, 443, "18:00", "Europe/Madrid", "course-01")
    report = run_desktop_setup(connection, script)     # or: conn.run(SETUP_COMMAND, sudo=True,
    print(novnc_url(address, 443), report.gpus)        #            stdin=script)

The script is idempotent (re-running it fixes what is missing, changes the password without
disconnecting anyone, and restarts only the daemons whose settings changed) and is fed to
`bash -s` on stdin, never as a command line: it carries the VNC password file.

The session runs as DESKTOP_USER (`student`): an account with no SSH key and no sudo, separate
from the image's login user that sclust administers the desktop with.
"""

from __future__ import annotations

import base64
import re
import shlex
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sclust.desktops import desktop_sh
from sclust.desktops.vncauth import MAX_LENGTH, generate_password, password_file
from sclust.errors import SclustError

if TYPE_CHECKING:
    from sclust.ssh import Connection

__all__ = ["DESKTOP_USER", "SETUP_COMMAND", "DesktopReport", "DesktopSetupError",
           "desktop_setup_script", "generate_password", "novnc_url", "parse_setup_output",
           "run_desktop_setup"]

DESKTOP_USER = "student"
RFB_PORT = 5901  # the VNC server's own port, on 127.0.0.1 only
SETUP_COMMAND = "bash -s"  # run as root, with the script on stdin

_TIME = re.compile(r"(?:[01]\d|2[0-3]):[0-5]\d")
_TIMEZONE = re.compile(r"[A-Za-z][A-Za-z0-9_+\-]*(?:/[A-Za-z0-9_+\-]+)*")
_HOST_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9.\-]{0,62}")
_USER = re.compile(r"[a-z_][a-z0-9_\-]{0,31}")


class DesktopSetupError(SclustError):
    """A desktop setting sclust cannot use, or a setup that failed on the desktop."""


@dataclass(frozen=True)
class DesktopReport:
    """What the setup script reports about one desktop."""

    user: str
    novnc_port: int
    cert_sha256: str
    auto_stop: str | None  # "18:00 Europe/Madrid", or None when off
    gpus: int | None  # None: no NVIDIA GPU (nvidia-smi absent or lists none)

    @property
    def gpu_line(self) -> str:
        return f"gpu {self.gpus}" if self.gpus else "gpu none"


def _check(password: str, novnc_port: int, auto_stop: str | None, timezone: str | None,
           host_name: str, user: str) -> None:
    problems = []
    if not 6 <= len(password) <= MAX_LENGTH or not password.isascii() \
            or not password.isprintable() or " " in password:
        problems.append(f"the VNC password must be 6 to {MAX_LENGTH} printable ASCII characters "
                        "without spaces (VNC authentication ignores the rest)")
    if not 1 <= novnc_port <= 65535 or novnc_port in (22, RFB_PORT):
        problems.append(f"the noVNC port must be 1-65535, not 22 or {RFB_PORT}: {novnc_port}")
    if auto_stop is not None and not _TIME.fullmatch(auto_stop):
        problems.append(f"AUTO_STOP must be HH:MM (24 h): {auto_stop!r}")
    if timezone is not None and (not _TIMEZONE.fullmatch(timezone) or ".." in timezone):
        problems.append(f"not a time zone name: {timezone!r}")
    if not _HOST_NAME.fullmatch(host_name):
        problems.append(f"not a host name or address: {host_name!r}")
    if not _USER.fullmatch(user) or user == "root":
        problems.append(f"not a user for the desktop session: {user!r}")
    if problems:
        raise DesktopSetupError("; ".join(problems))


def desktop_setup_script(password: str, novnc_port: int, auto_stop: str | None,
                         timezone: str | None, host_name: str, *,
                         user: str = DESKTOP_USER) -> str:
    """The bash script (run as root, on stdin: `SETUP_COMMAND`) that makes a host a desktop:
    installs what the image lacks, sets the VNC password, runs the VNC server on localhost and
    noVNC over HTTPS on NOVNC_PORT (a self-signed certificate made on the host), powers the
    host off daily at AUTO_STOP (HH:MM in TIMEZONE; None: no auto-stop), and prints the lines
    `parse_setup_output` reads (`gpu N` or `gpu none` among them)."""
    _check(password, novnc_port, auto_stop, timezone, host_name, user)
    settings = {
        "DESKTOP_USER": user,
        "NOVNC_PORT": str(novnc_port),
        "AUTO_STOP": auto_stop or "",
        "TZONE": timezone or "UTC",
        "DESKTOP_NAME": host_name,
        # The password file's 8 bytes (the form Xvnc reads), not the password in clear.
        "VNC_PASSWD_B64": base64.b64encode(password_file(password)).decode(),
    }
    header = "".join(f"{name}={shlex.quote(value)}\n" for name, value in settings.items())
    return "#!/bin/bash\n# sclust desktop setup\n" + header + desktop_sh.BODY


def novnc_url(address: str, port: int) -> str:
    """The page a student opens: noVNC's vnc.html over HTTPS (no port shown for 443)."""
    host = f"[{address}]" if ":" in address else address
    return f"https://{host}/vnc.html" if port == 443 else f"https://{host}:{port}/vnc.html"


def parse_setup_output(stdout: str) -> DesktopReport:
    """The report lines of the setup script's output."""
    found: dict[str, str] = {}
    for line in stdout.splitlines():
        key, _, value = line.strip().partition(" ")
        if key in ("desktop-user", "novnc-port", "cert-sha256", "auto-stop", "gpu"):
            found[key] = value.strip()
    missing = [k for k in ("desktop-user", "novnc-port", "cert-sha256", "auto-stop", "gpu")
               if k not in found]
    if missing:
        raise DesktopSetupError(f"the desktop setup did not report {', '.join(missing)}")
    gpu = found["gpu"]
    return DesktopReport(
        user=found["desktop-user"],
        novnc_port=int(found["novnc-port"]),
        cert_sha256=found["cert-sha256"],
        auto_stop=None if found["auto-stop"] == "off" else found["auto-stop"],
        gpus=int(gpu) if gpu.isdigit() and int(gpu) > 0 else None,
    )


def run_desktop_setup(connection: Connection, script: str, timeout: float = 1800) -> DesktopReport:
    """Run the setup script on one desktop as root (through sudo for a non-root login user),
    the script on stdin; its report. Raises RemoteError with the script's output tail."""
    result = connection.run(SETUP_COMMAND, sudo=True, stdin=script, timeout=timeout)
    return parse_setup_output(result.stdout)

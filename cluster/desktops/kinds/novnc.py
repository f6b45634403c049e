"""noVNC desktops: a VNC server on localhost and noVNC over HTTPS (`novnc.sh`).

    run = NOVNC.setup(DesktopSpec(443, "course-01", "18:00", "Europe/Madrid"), password)
    report = NOVNC.parse_report(connection.run_script(run).stdout)
    print(NOVNC.url(address, 443), report.gpus)

The credential is an 8-character VNC password (VNC reads no more). It reaches the desktop as
the 8-byte VNC password file, an input on stdin: never a command line, an env file or a log.
"""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING

from sclust.desktops.kinds import PACKAGE, DesktopKind, DesktopSpec
from sclust.desktops.vncauth import (
    MAX_LENGTH,
    generate_password,
    password_file,
    view_password,
)
from sclust.scripts import ScriptFile

if TYPE_CHECKING:
    from sclust.desktops.state import CourseSettings

RFB_PORT = 5901  # the VNC server's own port, on 127.0.0.1 only


class NoVNCKind(DesktopKind):
    name = "novnc"
    title = "noVNC"
    step = ScriptFile(PACKAGE, "novnc.sh")
    ready_path = "/vnc.html"

    def port(self, settings: CourseSettings) -> int:
        return settings.novnc_port

    def new_credential(self) -> str:
        return generate_password()

    def credential_problem(self, credential: str) -> str | None:
        if not 6 <= len(credential) <= MAX_LENGTH or not credential.isascii() \
                or not credential.isprintable() or " " in credential:
            return (f"the VNC password must be 6 to {MAX_LENGTH} printable ASCII characters "
                    "without spaces (VNC authentication ignores the rest)")
        return None

    def credential_inputs(self, credential: str) -> dict[str, str]:
        # The password file (the form Xvnc reads), not the password in clear: the student's
        # password, then the view-only one the instructor's wall uses.
        return {"vnc_password_file": base64.b64encode(
            password_file(credential, view_password(credential))).decode()}

    def kind_inputs(self, port: int, spec: DesktopSpec) -> dict[str, str | int | None]:
        inputs: dict[str, str | int | None] = {"port": port}
        if spec.label is not None:  # the number as the session's wallpaper
            from sclust.desktops.wallpaper import BACKGROUND_HEX, number_png

            inputs["wallpaper_png"] = base64.b64encode(number_png(spec.label)).decode()
            inputs["wallpaper_color"] = BACKGROUND_HEX
        return inputs

    def port_problem(self, port: int) -> str | None:
        if not 1 <= port <= 65535 or port in (22, RFB_PORT):
            return f"the noVNC port must be 1-65535, not 22 or {RFB_PORT}: {port}"
        return None


NOVNC = NoVNCKind()


def novnc_url(address: str, port: int) -> str:
    """The page a student opens: noVNC's vnc.html over HTTPS (no port shown for 443)."""
    return NOVNC.url(address, port)

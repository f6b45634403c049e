"""JupyterLab desktops: JupyterLab as the student over HTTPS, opened by its own token
(`jupyter.sh`).

    run = JUPYTER.setup(DesktopSpec(8888, "course-01"), token)
    print(JUPYTER.url(address, 8888))                  # https://ADDRESS:8888/lab

The token is one per desktop (never shared): an input on stdin, a 0640 file on the desktop
that JupyterLab's config reads — never a command line, an environment file, a tag or a log.
The student types it on JupyterLab's login page ("Password or token").
"""

from __future__ import annotations

import re
import secrets
from typing import TYPE_CHECKING

from sclust.desktops.kinds import PACKAGE, DesktopKind, DesktopSpec
from sclust.scripts import ScriptFile

if TYPE_CHECKING:
    from sclust.desktops.state import CourseSettings

# Letters and digits people read without confusion (no 0/O, 1/l/I); URL-safe.
_ALPHABET = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
TOKEN_LENGTH = 20  # about 116 bits
_TOKEN = re.compile(r"[A-Za-z0-9_\-]{16,128}")
RESERVED = (22, 5901)  # SSH; the VNC server of a desktop that also serves noVNC


class JupyterKind(DesktopKind):
    name = "jupyter"
    title = "JupyterLab"
    step = ScriptFile(PACKAGE, "jupyter.sh")
    ready_path = "/login"  # answers 200 without a token once the server runs
    page_path = "/lab"
    credential_name = "token"

    def port(self, settings: CourseSettings) -> int:
        return settings.jupyter_port

    def new_credential(self) -> str:
        return "".join(secrets.choice(_ALPHABET) for _ in range(TOKEN_LENGTH))

    def credential_problem(self, credential: str) -> str | None:
        if not _TOKEN.fullmatch(credential):
            return "a Jupyter token is 16 to 128 letters, digits, '-' or '_'"
        return None

    def credential_inputs(self, credential: str) -> dict[str, str]:
        return {"jupyter_token": credential}

    def kind_inputs(self, port: int, spec: DesktopSpec) -> dict[str, str | int | None]:
        return {"jupyter_port": port}

    def port_problem(self, port: int) -> str | None:
        if not 1 <= port <= 65535 or port in RESERVED:
            return f"the JupyterLab port must be 1-65535, not 22 or 5901: {port}"
        return None


JUPYTER = JupyterKind()

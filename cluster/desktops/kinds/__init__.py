"""Desktop kinds: what a desktop serves to its student (noVNC, JupyterLab, or both).

A kind is the few things courses and the novnc plugin ask of it:

    kind = desktop_kind("novnc")                       # KIND = novnc in [desktops NAME]
    kind.port(settings)                                # its HTTPS port (from the course settings)
    kind.ports(settings)                               # [(port, description)] for the group
    kind.new_credential() / kind.credential_problem(c) # one credential per desktop
    run = kind.setup(spec, credential)                 # a ScriptRun: steps + inputs (secrets too)
    report = kind.parse_report(result.stdout)          # what the setup found (GPUs, cert…)
    kind.url(address, port); kind.ready(address, port) # the student's page; does it answer?

A course may serve several kinds on each desktop (`KIND = novnc, jupyter`): `course_kinds`
names them, `desktop_setup` runs every kind's step in one bash, each with its own port and its
own credential (one per kind per desktop, kept like passwords in passwords.py).

The setup of every kind is three steps in one bash: `desktop-base.sh` (helpers such as `put`
and `install_packages`, the session account, `cert_for GROUP DAEMON`: the desktop's self-signed
certificate), the kind's own step, then `desktop-start.sh` (the auto-stop timer, systemd units
or the rc.local supervisor, waiting for WAIT_PORTS, the common report lines). The kind's step
writes its files with `put`, declares each daemon with `daemon NAME DESCRIPTION AFTER` (its
program is $LIB/run-NAME), adds its local ports to WAIT_PORTS and prints `port N` and
`cert-sha256 X`. A new kind is a module here with its `.sh` and one line in `_registry`.
"""

from __future__ import annotations

import http.client
import re
import ssl
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from sclust.errors import SclustError
from sclust.scripts import ScriptFile, ScriptRun

if TYPE_CHECKING:
    from sclust.desktops.state import CourseSettings

PACKAGE = "sclust.desktops.kinds"
BASE_STEP = ScriptFile(PACKAGE, "desktop-base.sh")
START_STEP = ScriptFile(PACKAGE, "desktop-start.sh")
DESKTOP_USER = "student"  # the session account: no SSH key, no sudo

_TIME = re.compile(r"(?:[01]\d|2[0-3]):[0-5]\d")
_TIMEZONE = re.compile(r"[A-Za-z][A-Za-z0-9_+\-]*(?:/[A-Za-z0-9_+\-]+)*")
_HOST_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9.\-]{0,62}")
_USER = re.compile(r"[a-z_][a-z0-9_\-]{0,31}")
_LABEL = re.compile(r"[0-9]{2,4}")


class DesktopSetupError(SclustError):
    """A desktop setting sclust cannot use, or a setup that failed on the desktop."""


@dataclass(frozen=True)
class DesktopSpec:
    """One desktop's settings, as its setup script receives them (checked by `problems`)."""

    port: int  # the kind's HTTPS port
    host_name: str  # on the certificate and the VNC title: COURSE-NN or the master's address
    auto_stop: str | None = None  # HH:MM, or None: no daily power-off
    timezone: str | None = None
    user: str = DESKTOP_USER
    label: str | None = None  # the desktop's number ("07"): on its screen and shell prompt
    idle_stop: int | None = None  # seconds with no client on its pages before it powers off

    def problems(self) -> list[str]:
        found = []
        if self.auto_stop is not None and not _TIME.fullmatch(self.auto_stop):
            found.append(f"AUTO_STOP must be HH:MM (24 h): {self.auto_stop!r}")
        if self.timezone is not None and (not _TIMEZONE.fullmatch(self.timezone)
                                          or ".." in self.timezone):
            found.append(f"not a time zone name: {self.timezone!r}")
        if not _HOST_NAME.fullmatch(self.host_name):
            found.append(f"not a host name or address: {self.host_name!r}")
        if not _USER.fullmatch(self.user) or self.user == "root":
            found.append(f"not a user for the desktop session: {self.user!r}")
        if self.label is not None and not _LABEL.fullmatch(self.label):
            found.append(f"not a desktop number: {self.label!r}")
        if self.idle_stop is not None and (not isinstance(self.idle_stop, int)
                                           or not 60 <= self.idle_stop <= 7 * 86400):
            found.append(f"IDLE_STOP must be 1 minute to 7 days: {self.idle_stop} s")
        return found

    def base_inputs(self) -> dict[str, str | int | None]:
        """The inputs of desktop-base.sh and desktop-start.sh."""
        return {"desktop_user": self.user, "desktop_name": self.host_name,
                "auto_stop": self.auto_stop, "timezone": self.timezone or "UTC",
                "desktop_label": self.label, "idle_stop": self.idle_stop}


@dataclass(frozen=True)
class DesktopReport:
    """What a setup script reports about one desktop."""

    user: str
    port: int
    cert_sha256: str
    auto_stop: str | None  # "18:00 Europe/Madrid", or None when off
    gpus: int | None  # None: no NVIDIA GPU (nvidia-smi absent or lists none)

    @property
    def gpu_line(self) -> str:
        return f"gpu {self.gpus}" if self.gpus else "gpu none"

    @property
    def novnc_port(self) -> int:  # the name before kinds
        return self.port


REPORT_KEYS = ("desktop-user", "port", "cert-sha256", "auto-stop", "gpu")


def parse_report(stdout: str) -> DesktopReport:
    """The report lines a setup prints (desktop-start.sh and the kinds' steps; with several
    kinds, `port` is the first kind's and every kind serves the desktop's one certificate)."""
    found: dict[str, str] = {}
    for line in stdout.splitlines():
        key, _, value = line.strip().partition(" ")
        if key in REPORT_KEYS:
            found.setdefault(key, value.strip())
    missing = [k for k in REPORT_KEYS if k not in found]
    if missing:
        raise DesktopSetupError(f"the desktop setup did not report {', '.join(missing)}")
    gpu = found["gpu"]
    return DesktopReport(
        user=found["desktop-user"], port=int(found["port"]), cert_sha256=found["cert-sha256"],
        auto_stop=None if found["auto-stop"] == "off" else found["auto-stop"],
        gpus=int(gpu) if gpu.isdigit() and int(gpu) > 0 else None,
    )


class DesktopKind(ABC):
    """What a desktop serves (a page over HTTPS on one port) and how it is set up."""

    name: ClassVar[str]  # the KIND value
    title: ClassVar[str]  # for people: "noVNC"
    step: ClassVar[ScriptFile]  # the kind's own setup step
    ready_path: ClassVar[str] = "/"  # answers 200 once the desktop is usable
    page_path: ClassVar[str | None] = None  # the student's page (default: ready_path)
    credential_name: ClassVar[str] = "password"  # what the student types: password or token

    @abstractmethod
    def port(self, settings: CourseSettings) -> int:
        """The kind's HTTPS port in a course's settings."""

    def ports(self, settings: CourseSettings) -> list[tuple[int, str]]:
        """The TCP ports the course's security group opens for it (SSH is always open)."""
        return [(self.port(settings), f"{self.title} (HTTPS)")]

    @abstractmethod
    def new_credential(self) -> str:
        """A fresh per-desktop credential (password or token)."""

    @abstractmethod
    def credential_problem(self, credential: str) -> str | None:
        """Why CREDENTIAL cannot be used, or None."""

    @abstractmethod
    def credential_inputs(self, credential: str) -> dict[str, str]:
        """The inputs that carry the credential to the kind's step (stdin only, never argv)."""

    def kind_inputs(self, port: int, spec: DesktopSpec) -> dict[str, str | int | None]:
        """The kind's step's other inputs (names unique across kinds: one bash runs them all)."""
        return {"port": port}

    def port_problem(self, port: int) -> str | None:
        """Why the kind cannot serve on PORT, or None."""
        if not 1 <= port <= 65535 or port == 22:
            return f"the {self.title} port must be 1-65535, not 22: {port}"
        return None

    def setup(self, spec: DesktopSpec, credential: str) -> ScriptRun:
        """The script (steps + inputs) that makes a host this kind of desktop, idempotently."""
        return desktop_setup(spec, [Served(self, spec.port, credential)])

    def parse_report(self, stdout: str) -> DesktopReport:
        return parse_report(stdout)

    def url(self, address: str, port: int) -> str:
        """The page a student opens (no port shown for 443)."""
        host = f"[{address}]" if ":" in address else address
        where = host if port == 443 else f"{host}:{port}"
        return f"https://{where}{self.page_path or self.ready_path}"

    def ready(self, address: str, port: int, timeout: float = 3) -> bool:
        """Does the desktop's page answer 200 over HTTPS? (Its certificate is self-signed.)"""
        return https_answers(address, port, self.ready_path, timeout)


@dataclass(frozen=True)
class Served:
    """One kind a desktop serves: on PORT, opened by CREDENTIAL."""

    kind: DesktopKind
    port: int
    credential: str


def desktop_setup(spec: DesktopSpec, served: Sequence[Served]) -> ScriptRun:
    """One script making a host a desktop serving every kind in SERVED: the shared first
    step, each kind's step with its port and credential, the shared last step."""
    problems = spec.problems()
    for item in served:
        problems += [p for p in (item.kind.credential_problem(item.credential),
                                 item.kind.port_problem(item.port)) if p]
    ports = [item.port for item in served]
    if len(set(ports)) < len(ports):
        problems.append(f"each kind needs its own port: {', '.join(map(str, ports))}")
    if not served:
        problems.append("a desktop serves at least one kind")
    if problems:
        raise DesktopSetupError("; ".join(problems))
    run = ScriptRun().add(BASE_STEP, **spec.base_inputs())
    for item in served:
        run.add(item.kind.step, **item.kind.kind_inputs(item.port, spec),
                **item.kind.credential_inputs(item.credential))
    return run.add(START_STEP)


def https_answers(address: str, port: int, path: str, timeout: float = 3) -> bool:
    """GET https://ADDRESS:PORT/PATH answers 200 (any certificate: each desktop makes its own)."""
    from sclust.ssh import check_destination

    check_destination(address)
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    connection = http.client.HTTPSConnection(address, port, timeout=timeout, context=context)
    try:
        connection.request("GET", path)
        return connection.getresponse().status == 200
    except (OSError, http.client.HTTPException):
        return False
    finally:
        connection.close()


def _registry() -> dict[str, DesktopKind]:
    from sclust.desktops.kinds.jupyter import JUPYTER
    from sclust.desktops.kinds.novnc import NOVNC

    return {kind.name: kind for kind in (NOVNC, JUPYTER)}  # a new kind: one more entry here


_KINDS: dict[str, DesktopKind] = {}


def kinds() -> dict[str, DesktopKind]:
    """Every desktop kind, by its KIND name."""
    if not _KINDS:
        _KINDS.update(_registry())
    return _KINDS


def desktop_kind(name: str) -> DesktopKind:
    """The kind named NAME; an unknown name is an error naming the known ones."""
    try:
        return kinds()[name]
    except KeyError:
        raise SclustError(f"unknown desktop kind {name!r} (known: "
                          f"{', '.join(sorted(kinds()))})") from None


def kind_names(text: str) -> list[str]:
    """`novnc, jupyter` -> ["novnc", "jupyter"] (KIND, or the course's settings tag: untrusted,
    so checked here); an unknown, repeated or missing name is an error."""
    names = [part.strip() for part in text.split(",")]
    if not all(names):
        raise SclustError(f"KIND names desktop kinds separated by commas: {text!r}")
    unknown = [n for n in names if n not in kinds()]
    if unknown:
        raise SclustError(f"unknown desktop kind {unknown[0]!r} (known: "
                          f"{', '.join(sorted(kinds()))})")
    if len(set(names)) < len(names):
        raise SclustError(f"a desktop kind is named twice in {text!r}")
    return names


def course_kinds(settings: CourseSettings) -> list[DesktopKind]:
    """The kinds every desktop of a course serves, in KIND's order (the first is the main one:
    its password is the sheet's `password` column)."""
    return [kinds()[name] for name in kind_names(settings.kind)]


def served_ports(settings: CourseSettings) -> list[tuple[DesktopKind, int]]:
    """Each kind of the course with its port."""
    return [(kind, kind.port(settings)) for kind in course_kinds(settings)]

"""/etc/exports, as nfs-utils reads it: which client may mount which path, with which options."""

from __future__ import annotations

import fnmatch
import ipaddress
import shlex
from dataclasses import dataclass


@dataclass(frozen=True)
class ClientRule:
    spec: str  # "*", "10.0.0.0/8", "172.31.16.5", "node001", "node*"
    options: tuple[str, ...]

    @property
    def read_only(self) -> bool:
        # nfs-utils' default is `ro`; the last of ro/rw wins.
        access = [o for o in self.options if o in ("ro", "rw")]
        return not access or access[-1] == "ro"

    def matches(self, client_ips: set[str], client_names: set[str],
                resolve: dict[str, set[str]]) -> bool:
        """Whether a client with these addresses/names (as the server resolves them) matches."""
        spec = self.spec
        if spec in ("*", ""):
            return True
        if spec.startswith("@"):
            return False  # NIS netgroups: none exist here
        try:
            network = ipaddress.IPv4Network(spec, strict=False)
            return any(ipaddress.IPv4Address(ip) in network for ip in client_ips)
        except ValueError:
            pass
        if any(c in spec for c in "*?["):
            return any(fnmatch.fnmatchcase(name, spec) for name in client_names)
        return spec in client_names or bool(resolve.get(spec, set()) & client_ips)


@dataclass(frozen=True)
class Export:
    path: str
    clients: tuple[ClientRule, ...]


def parse_exports(text: str) -> tuple[list[Export], list[str]]:
    """Entries and warnings (like exportfs: a bad line is reported and skipped)."""
    exports, warnings = [], []
    joined = text.replace("\\\n", " ")
    for number, raw in enumerate(joined.splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        try:
            words = shlex.split(line)
        except ValueError as exc:
            warnings.append(f"/etc/exports:{number}: {exc}")
            continue
        path, rest = words[0], words[1:]
        if not path.startswith("/"):
            warnings.append(f"/etc/exports:{number}: path {path!r} is not absolute")
            continue
        default_options: tuple[str, ...] = ()
        if rest and rest[0].startswith("-"):  # "-opts" sets defaults for the line
            default_options = tuple(rest.pop(0)[1:].split(","))
        clients = []
        for word in rest or ["*"]:
            if "(" in word:
                spec, _, opts = word.partition("(")
                if not opts.endswith(")"):
                    warnings.append(f"/etc/exports:{number}: bad option list in {word!r}")
                    continue
                options = default_options + tuple(o for o in opts[:-1].split(",") if o)
            else:
                spec, options = word, default_options
            clients.append(ClientRule(spec, options))
        exports.append(Export(path.rstrip("/") or "/", tuple(clients)))
    return exports, warnings


def hosts_table(text: str) -> dict[str, set[str]]:
    """name → addresses from an /etc/hosts text."""
    table: dict[str, set[str]] = {}
    for raw in text.splitlines():
        fields = raw.split("#", 1)[0].split()
        for name in fields[1:]:
            table.setdefault(name, set()).add(fields[0])
    return table


def find_export(exports: list[Export], path: str) -> Export | None:
    """The export covering `path` (itself or a parent: mountd allows subdirectories). A path
    with `.` or `..` components is covered by none (it could climb out of an export)."""
    if not path.startswith("/") or any(part in (".", "..") for part in path.split("/")):
        return None
    path = path.rstrip("/") or "/"
    best = None
    for export in exports:
        if path == export.path or path.startswith(export.path.rstrip("/") + "/"):
            if best is None or len(export.path) > len(best.path):
                best = export
    return best

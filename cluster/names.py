"""The one rule for the names users give things — cluster tags, course names, node aliases,
template names — checked by the CLI, by the config and on whatever is read back from EC2.

They become host names, security-group names, tag values and file names, so they are DNS
labels: letters, digits and `-`, starting and ending with a letter or digit, at most
MAX_LENGTH characters. Template names may also hold `_` (StarCluster's own templates did,
and they never become host or file names).
"""

from __future__ import annotations

import re
from pathlib import Path

MAX_LENGTH = 40
LABEL = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?$")
TEMPLATE = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9_-]*[A-Za-z0-9])?$")


def name_problem(value: str, template: bool = False) -> str | None:
    """Why VALUE cannot be a name, or None."""
    if not value:
        return "is empty"
    if len(value) > MAX_LENGTH:
        return f"is {len(value)} characters long (at most {MAX_LENGTH})"
    if not (TEMPLATE if template else LABEL).match(value):
        allowed = "letters, digits, '-'" + (" and '_'" if template else "")
        return (f"{value!r} may hold only {allowed}, starting and ending with a letter or "
                "digit")
    return None


def check_name(value: str, what: str, template: bool = False) -> str:
    """VALUE if it is a valid name, else ValueError naming WHAT it was meant to be."""
    problem = name_problem(value, template)
    if problem:
        raise ValueError(f"{what} {problem}")
    return value


def same_host_name(a: str, b: str) -> bool:
    """Host names are compared without case: `Master` and `master` are one host."""
    return a.lower() == b.lower()


def child_path(directory: Path, name: str, suffix: str = "") -> Path:
    """DIRECTORY/NAME+SUFFIX, refusing a NAME that is not a valid name — so no name, wherever
    it came from, can reach outside DIRECTORY."""
    check_name(name, "name")
    path = directory / f"{name}{suffix}"
    if path.parent != directory:
        raise ValueError(f"{name!r} leaves {directory}")
    return path

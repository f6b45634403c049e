"""Desktop passwords and tokens: random, one per kind per desktop, kept only on the
instructor's machine.

They are never put on EC2 (tags are readable by anyone with describe rights) nor in logs:
$SCLUST_HOME/desktops/REGION/COURSE.json, mode 0600 in a 0700 directory, holds each
desktop's credentials (its noVNC password, its Jupyter token…, by kind) with the instance they
were made for (a replaced desktop gets new ones).

A second instructor machine has the credentials and the config but not this file: every
command works there except the passwords in `roster --csv`. Copy the file over (keeping mode
0600), or run `sclust desktops start COURSE --new-passwords` there to set new ones.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sclust.errors import SclustError
from sclust.files import write_private
from sclust.paths import sclust_home

if TYPE_CHECKING:
    from sclust.desktops.kinds import DesktopKind


def passwords_file(region: str, course: str) -> Path:
    return sclust_home() / "desktops" / region / f"{course}.json"


@dataclass
class Entry:
    instance_id: str
    credentials: dict[str, str] = field(default_factory=dict)  # kind name -> password/token
    student: str | None = None
    email: str | None = None
    gpu: str | None = None  # what the setup found: "none" or a count

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Entry:
        data = dict(data)
        if "password" in data:  # written before kinds: the noVNC password
            data.setdefault("credentials", {}).setdefault("novnc", data.pop("password"))
        return cls(**data)


@dataclass
class PasswordStore:
    """The passwords of one course on this machine."""

    path: Path
    entries: dict[str, Entry] = field(default_factory=dict)  # by desktop label "01"

    @classmethod
    def load(cls, region: str, course: str) -> PasswordStore:
        path = passwords_file(region, course)
        store = cls(path)
        if path.exists():
            try:
                data = json.loads(path.read_text())
                store.entries = {k: Entry.from_json(v)
                                 for k, v in data.get("desktops", {}).items()}
            except (OSError, ValueError, TypeError) as error:
                raise SclustError(f"{path}: cannot read the desktops' passwords: {error}") from None
        return store

    def for_desktop(self, label: str, instance_id: str, kinds: Sequence[DesktopKind],
                    student: str | None = None, email: str | None = None,
                    renew: bool = False) -> dict[str, str]:
        """The desktop's credential for each of KINDS (kind name -> password or token), each
        made now by its kind if the desktop has none (or they belong to a replaced desktop)."""
        entry = self.entries.get(label)
        if entry is None or entry.instance_id != instance_id or renew:
            entry = Entry(instance_id, {}, student, email)
            self.entries[label] = entry
        else:
            entry.student = student or entry.student
            entry.email = email or entry.email
        for kind in kinds:
            if kind.name not in entry.credentials:
                entry.credentials[kind.name] = kind.new_credential()
        return {kind.name: entry.credentials[kind.name] for kind in kinds}

    def known(self, label: str, instance_id: str) -> dict[str, str] | None:
        """The desktop's credentials by kind, if this machine has them for that instance."""
        entry = self.entries.get(label)
        return dict(entry.credentials) if entry and entry.instance_id == instance_id else None

    def save(self) -> None:
        """Write atomically, readable by the owner only (also while being written)."""
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(self.path.parent, 0o700)  # parents made earlier may be wider
        data = {"desktops": {k: vars(v) for k, v in sorted(self.entries.items())}}
        write_private(self.path, json.dumps(data, indent=1))

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)

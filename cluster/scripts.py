"""Scripts sent to nodes: `.sh` files shipped as package data, with their inputs as data.

A phase on a node is one `ScriptRun`: the step files to run in order (sourced by one bash, so
they share functions and background jobs) and named inputs. Both travel on stdin as a tar
archive; the remote command line is the constant `REMOTE_COMMAND`, so no value — a host name,
a path from a tag, a key — is ever spliced into shell text or shown in `ps`.

Inside a step, `input NAME` prints an input and `input_lines NAME ARRAY` reads a list of
lines into a bash array; `$SCLUST_INPUT/NAME` is the file itself (0600, root-only).
"""

from __future__ import annotations

import io
import re
import tarfile
from dataclasses import dataclass, field
from importlib import resources

INPUT_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")

# Unpack the archive into a private directory, run its driver, always remove the directory.
REMOTE_COMMAND = (
    "d=$(mktemp -d) || exit 97; "
    "trap 'rm -rf -- \"$d\"' EXIT; "
    "tar -x -f - -C \"$d\" || exit 98; "
    "SCLUST_INPUT=\"$d/input\" bash \"$d/run.sh\""
)

# The driver: strict mode, the input helpers, then each step in order (names from `plan`).
DRIVER = """\
set -euo pipefail
here=$(dirname -- "${BASH_SOURCE[0]}")
input() { cat -- "$SCLUST_INPUT/$1"; }
input_lines() { mapfile -t "$2" < "$SCLUST_INPUT/$1"; }
has_input() { [ -e "$SCLUST_INPUT/$1" ]; }
mapfile -t sclust_steps < "$here/plan"
for sclust_step in "${sclust_steps[@]}"; do
  # shellcheck disable=SC1090
  source "$here/steps/$sclust_step"
done
"""


@dataclass(frozen=True)
class ScriptFile:
    """One `.sh` file of package data: PACKAGE (e.g. `sclust.sge`) and its path inside it."""

    package: str
    path: str

    @property
    def name(self) -> str:
        return f"{self.package}:{self.path}"

    def text(self) -> str:
        return (resources.files(self.package) / self.path).read_text()


@dataclass
class ScriptRun:
    """What one SSH command on one node runs: STEPS in order with INPUTS."""

    steps: list[ScriptFile] = field(default_factory=list)
    inputs: dict[str, str] = field(default_factory=dict)

    def add(self, step: ScriptFile, **inputs: str | list[str] | int | bool | None) -> ScriptRun:
        """Append STEP and its inputs (lists become lines; None and False leave it unset)."""
        self.steps.append(step)
        for name, value in inputs.items():
            if value is None or value is False:
                continue
            self.set(name, value)
        return self

    def set(self, name: str, value: str | list[str] | int | bool) -> None:
        if not INPUT_NAME.match(name):
            raise ValueError(f"input name {name!r} is not a plain identifier")
        if isinstance(value, list):
            if any("\n" in line for line in value):  # one line per item, or items merge
                raise ValueError(f"input {name!r}: a list item holds a line break")
            text = "".join(f"{line}\n" for line in value)
        elif value is True:
            text = "1"
        else:
            text = str(value)
        if name in self.inputs and self.inputs[name] != text:
            raise ValueError(f"input {name!r} given twice with different values")
        self.inputs[name] = text

    def extend(self, other: ScriptRun) -> ScriptRun:
        for step in other.steps:
            self.steps.append(step)
        for name, text in other.inputs.items():
            if name in self.inputs and self.inputs[name] != text:
                raise ValueError(f"input {name!r} given twice with different values")
            self.inputs[name] = text
        return self

    def __bool__(self) -> bool:
        return bool(self.steps)

    def describe(self) -> str:
        """For logs and errors: the steps, never the inputs (they may be secret)."""
        return " + ".join(step.path.rsplit("/", 1)[-1] for step in self.steps) or "nothing"

    def archive(self) -> bytes:
        """The tar archive sent on stdin: run.sh, plan, steps/NN-name.sh, input/NAME."""
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
            plan = []
            add_member(tar, "run.sh", DRIVER.encode(), 0o700)
            for number, step in enumerate(self.steps):
                member = f"{number:02d}-{step.path.rsplit('/', 1)[-1]}"
                plan.append(member)
                add_member(tar, f"steps/{member}", step.text().encode(), 0o600)
            add_member(tar, "plan", "".join(f"{p}\n" for p in plan).encode(), 0o600)
            add_member(tar, "input", b"", 0o700, directory=True)
            for name, text in self.inputs.items():
                add_member(tar, f"input/{name}", text.encode(), 0o600)
        return buffer.getvalue()


def add_member(tar: tarfile.TarFile, name: str, data: bytes, mode: int,
               directory: bool = False) -> None:
    info = tarfile.TarInfo(name)
    info.mode = mode
    info.mtime = 0
    if directory:
        info.type = tarfile.DIRTYPE
        tar.addfile(info)
    else:
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))


def rendered(run: ScriptRun) -> str:
    """The whole script as bash would see it, inputs left as files: for `bash -n` and
    shellcheck in tests (the driver followed by each step)."""
    return DRIVER + "".join(f"# --- {s.name}\n{s.text()}" for s in run.steps)

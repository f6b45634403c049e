"""A wheel of the very sclust the operator runs, for the balancer on the master.

Built from the installed package itself (its modules and package data, wherever the install
keeps them: site-packages, or the source folders of an editable install), never fetched from
the package index, so the master runs the operator's version, local changes included. Its
dependencies are named in the wheel's metadata as the installed distribution names them; they
travel too, as wheels for the master's Python fetched by the operator's pip (the master then
needs no package index), or, when the operator's pip cannot get them, come from the master's.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import io
import logging
import re
import subprocess
import sys
import tarfile
import zipfile
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

log = logging.getLogger("sclust")

DISTRIBUTION = "sclust-hpc"
# Packages whose folder is not inside `sclust`'s own in a source tree (setup.cfg's
# package_dir maps them; a test checks the two agree).
MAPPED_PACKAGES = ("sclust.plugins", "sclust.sge")
SKIPPED = {"__pycache__"}


def package_files() -> dict[str, Path]:
    """Archive name (`sclust/...`) -> file, for every module and data file of the install."""
    files: dict[str, Path] = {}
    for package in ("sclust", *MAPPED_PACKAGES):
        spec = importlib.util.find_spec(package)
        if spec is None or not spec.submodule_search_locations:
            raise RuntimeError(f"{package} is not an installed package")
        root = Path(next(iter(spec.submodule_search_locations)))
        prefix = package.replace(".", "/")
        for path in sorted(root.rglob("*")):
            relative = path.relative_to(root)
            if (path.is_dir() or SKIPPED & set(relative.parts) or path.suffix == ".pyc"
                    or path.name.startswith(".")):
                continue
            files.setdefault(f"{prefix}/{relative.as_posix()}", path)
    return files


def requirements() -> list[str]:
    """The distribution's own requirements, extras left out (the balancer needs none)."""
    return [r for r in metadata.requires(DISTRIBUTION) or [] if "extra ==" not in r]


def build_wheel(directory: Path) -> Path:
    """Write `sclust_hpc-VERSION-py3-none-any.whl` into DIRECTORY; returns its path."""
    version = metadata.version(DISTRIBUTION)
    name = DISTRIBUTION.replace("-", "_")
    info = f"{name}-{version}.dist-info"
    meta = ["Metadata-Version: 2.1", f"Name: {DISTRIBUTION}", f"Version: {version}",
            "Summary: sclust, as run by the operator (shipped to the master by sclust)"]
    meta += [f"Requires-Dist: {r}" for r in requirements()]
    scripts = [e for e in metadata.distribution(DISTRIBUTION).entry_points
               if e.group == "console_scripts"]
    extra = {
        f"{info}/METADATA": "\n".join(meta) + "\n",
        f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: sclust\nRoot-Is-Purelib: true\n"
                         "Tag: py3-none-any\n",
        f"{info}/entry_points.txt": "[console_scripts]\n"
                                    + "".join(f"{e.name} = {e.value}\n" for e in scripts),
    }
    path = directory / f"{name}-{version}-py3-none-any.whl"
    record = []
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as wheel:
        for arcname, source in sorted(package_files().items()):
            data = source.read_bytes()
            wheel.writestr(arcname, data)
            record.append(record_line(arcname, data))
        for arcname, text in extra.items():
            wheel.writestr(arcname, text)
            record.append(record_line(arcname, text.encode()))
        record.append(f"{info}/RECORD,,")
        wheel.writestr(f"{info}/RECORD", "\n".join(record) + "\n")
    return path


def record_line(arcname: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{arcname},sha256={digest},{len(data)}"


@dataclass(frozen=True)
class Target:
    """The master's Python, as pip names a platform: version (3, 11) and machine (x86_64)."""

    version: tuple[int, int]
    machine: str

    PROBE = ("python3 -c 'import platform, sys; "
             "print(sys.version_info[0], sys.version_info[1], platform.machine())'")

    @classmethod
    def parse(cls, answer: str) -> Target | None:
        match = re.fullmatch(r"\s*(3) (\d{1,2}) (x86_64|aarch64)\s*", answer)
        return cls((3, int(match.group(2))), match.group(3)) if match else None

    @property
    def tag(self) -> str:
        return f"cp{self.version[0]}{self.version[1]}-{self.machine}"


def pinned_requirements() -> list[str]:
    """The requirements at the versions the operator has installed (the master runs those)."""
    pinned = []
    for requirement in requirements():
        name = re.split(r"[\s<>=!~;\[(]", requirement, maxsplit=1)[0]
        try:
            pinned.append(f"{name}=={metadata.version(name)}")
        except metadata.PackageNotFoundError:
            pinned.append(requirement.split(";")[0].strip())
    return pinned


def dependency_wheels(target: Target, cache: Path) -> list[Path]:
    """Wheels of sclust's dependencies for TARGET, fetched by the operator's pip (its own index
    and settings) into CACHE/TAG and kept there: the master then needs no package index (a
    private subnet, the local cloud). [] when pip cannot get them (the master's index is used)."""
    directory = cache / target.tag
    directory.mkdir(parents=True, exist_ok=True)
    platforms = [f"manylinux{v}_{target.machine}" for v in
                 ("2014", "_2_17", "_2_28", "_2_31", "_2_34")]
    command = [sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check",
               "--only-binary=:all:", "--dest", str(directory),
               "--python-version", f"{target.version[0]}.{target.version[1]}",
               *(arg for platform in platforms for arg in ("--platform", platform)),
               *pinned_requirements()]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    except (OSError, subprocess.TimeoutExpired) as error:
        log.warning("could not fetch the balancer's dependencies here: %s", error)
        return []
    if done.returncode != 0:
        log.warning("could not fetch the balancer's dependencies here (the master's package "
                    "index will be used): %s", done.stderr.strip()[-300:])
        return []
    return sorted(directory.glob("*.whl"))


def wheelhouse_archive(wheels: list[Path]) -> bytes:
    """One uncompressed tar of WHEELS (already compressed), flat, for the master."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for wheel in wheels:
            info = tar.gettarinfo(str(wheel), arcname=wheel.name)
            info.uid = info.gid = 0
            info.uname = info.gname = "root"
            with open(wheel, "rb") as f:
                tar.addfile(info, f)
    return buffer.getvalue()

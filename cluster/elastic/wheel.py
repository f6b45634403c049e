"""A wheel of the very sclust the operator runs, for the balancer on the master.

Built from the installed package itself (its modules and package data, wherever the install
keeps them: site-packages, or the source folders of an editable install), never fetched from
the package index, so the master runs the operator's version, local changes included. Its
dependencies are named in the wheel's metadata as the installed distribution names them; the
master's pip resolves those from its own index.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import zipfile
from importlib import metadata
from pathlib import Path

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

"""The wheel installs one import package, `sclust`, that works outside the source tree."""

from __future__ import annotations

import subprocess
import sys
import sysconfig
import textwrap
import zipfile
from pathlib import Path

import pytest

from tests.conftest import REPO, write_key


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps",
                    "--no-build-isolation", "-w", str(out), str(REPO)],
                   check=True, capture_output=True, text=True)
    (built,) = out.glob("sclust_hpc-*.whl")
    return built


def test_the_wheel_holds_only_the_sclust_package(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        top_level = {name.split("/")[0] for name in names}
        dist_info = next(name for name in top_level if name.endswith(".dist-info"))
        declared = archive.read(f"{dist_info}/top_level.txt").decode().split()
    assert top_level == {"sclust", dist_info}
    assert declared == ["sclust"]
    assert f"{dist_info}/licenses/LICENSE" in names or f"{dist_info}/LICENSE" in names
    assert "sclust/data/prices.json" in names
    assert "sclust/plugins/base.py" in names and "sclust/sge/stats.py" in names


def test_the_wheel_runs_in_a_fresh_virtual_environment(wheel: Path, tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()"
                           "['purelib'])"], check=True, capture_output=True, text=True)
    site_packages = Path(site.stdout.strip())
    # Dependencies come from this interpreter's site-packages as a plain path entry: its .pth
    # files (the editable install of the source tree among them) are not processed.
    (site_packages / "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps",
                    "--target", str(site_packages), str(wheel)], check=True)

    where = subprocess.run([str(python), "-c", "import sclust; print(sclust.__file__)"],
                           cwd=tmp_path, check=True, capture_output=True, text=True)
    assert Path(where.stdout.strip()).is_relative_to(site_packages)
    for name in ("cluster", "plugins", "sge"):
        probe = subprocess.run([str(python), "-c", f"import {name}"], cwd=tmp_path,
                               capture_output=True, text=True)
        assert probe.returncode != 0, f"`import {name}` should fail outside the source tree"

    sclust = venv / "bin" / "sclust"
    (venv / "bin" / "sclust").write_text(
        f"#!{python}\nimport sys\nfrom sclust.cli import main\nsys.exit(main())\n")
    sclust.chmod(0o755)
    helped = subprocess.run([str(sclust), "--help"], cwd=tmp_path, capture_output=True,
                            text=True, check=True)
    assert "start" in helped.stdout and "desktops" in helped.stdout

    key = write_key(tmp_path / "k.pem")
    config = tmp_path / "config"
    config.write_text(textwrap.dedent(f"""\
        [global]
        DEFAULT_TEMPLATE = small
        [aws info]
        AWS_REGION_NAME = us-east-1
        [key k]
        KEY_LOCATION = {key}
        [plugin users]
        SETUP_CLASS = starcluster.plugins.users.CreateUsers
        NUM_USERS = 2
        [cluster small]
        KEYNAME = k
        CLUSTER_SIZE = 2
        NODE_IMAGE_ID = ami-12345678
        NODE_INSTANCE_TYPE = t3.micro
        PLUGINS = users
        """))
    validated = subprocess.run([str(sclust), "-c", str(config), "validate"], cwd=tmp_path,
                               capture_output=True, text=True,
                               env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)})
    assert validated.returncode == 0, validated.stderr

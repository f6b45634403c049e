"""Secrets on the operator's machine: a private log, key files that never follow a planted
symlink."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from click.testing import CliRunner

from sclust.cli import main
from sclust.errors import SclustError
from sclust.files import write_private
from sclust.keys import create_key_file


def test_the_log_directory_and_file_are_the_owners_only(sclust_home: Path,
                                                        tmp_path: Path) -> None:
    CliRunner().invoke(main, ["-c", str(tmp_path / "none"), "validate"])
    logs = sclust_home / "logs"
    assert stat.S_IMODE(logs.stat().st_mode) == 0o700
    assert stat.S_IMODE((logs / "sclust.log").stat().st_mode) == 0o600


def test_a_key_file_is_never_written_through_a_planted_symlink(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_text("precious\n")
    planted = tmp_path / "new.pem"
    planted.symlink_to(victim)
    with pytest.raises(SclustError, match="exists"):
        create_key_file(planted, "-----BEGIN KEY-----\n")
    dangling = tmp_path / "dangling.pem"
    dangling.symlink_to(tmp_path / "nowhere")
    with pytest.raises(SclustError, match="exists"):
        create_key_file(dangling, "-----BEGIN KEY-----\n")
    assert victim.read_text() == "precious\n" and not (tmp_path / "nowhere").exists()


def test_private_files_replace_a_planted_symlink_instead_of_following_it(tmp_path: Path
                                                                         ) -> None:
    victim = tmp_path / "victim"
    victim.write_text("precious\n")
    target = tmp_path / "dir" / "user.pem"
    target.parent.mkdir()
    target.symlink_to(victim)
    write_private(target, "secret\n")
    assert victim.read_text() == "precious\n"
    assert not target.is_symlink() and target.read_text() == "secret\n"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600

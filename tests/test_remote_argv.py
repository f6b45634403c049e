"""ssh/scp command lines built from cluster state: nothing read back can become an option."""

from __future__ import annotations

from pathlib import Path

import pytest

from sclust.errors import SclustError
from sclust.remote import Remote
from sclust.state import ClusterInfo, Node


def info() -> ClusterInfo:
    master = Node("i-1", "master", "master", "running", "t3.micro", "ami-1", "us-east-1a",
                  "127.0.0.9", None, False, None)
    return ClusterInfo("demo", "sg-1", None, [master])


@pytest.mark.parametrize("user", ["-oProxyCommand=touch /tmp/x", "a b", "root;id", ""])
def test_a_login_user_from_tags_that_is_not_a_user_name_is_refused(user: str,
                                                                   tmp_path: Path) -> None:
    with pytest.raises(SclustError, match="login user"):
        Remote(info(), tmp_path / "k", user, tmp_path / "known")


def test_destinations_come_after_the_end_of_options(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[list[str]] = []
    monkeypatch.setattr("subprocess.call", lambda argv: calls.append(argv) or 0)
    remote = Remote(info(), tmp_path / "k", "ubuntu", tmp_path / "known")
    remote.ssh("master", ["hostname"])
    remote.copy("master", ["-oProxyCommand=x"], "/tmp", upload=True)
    ssh, scp = calls
    assert ssh[ssh.index("--") + 1:] == ["127.0.0.9", "hostname"]
    assert ssh[ssh.index("-l") + 1] == "ubuntu"
    assert scp[scp.index("--") + 1:] == ["-oProxyCommand=x", "ubuntu@127.0.0.9:/tmp"]


def test_starcluster_ssh_flags_go_to_ssh_before_the_destination(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[list[str]] = []
    monkeypatch.setattr("subprocess.call", lambda argv: calls.append(argv) or 0)
    remote = Remote(info(), tmp_path / "k", "ubuntu", tmp_path / "known")
    remote.ssh("master", ["xclock"], forward_x11=True, forward_agent=True, tty=True)
    (ssh,) = calls
    assert ssh[1:4] == ["-X", "-A", "-t"]
    assert ssh[ssh.index("--") + 1:] == ["127.0.0.9", "xclock"]

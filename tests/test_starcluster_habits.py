"""StarCluster's command-line habits (issue 13 item 3): -d, -c/--confirm, the short command
names, `sclust help`, addnode's -i/-I letters, removenode's default of one node."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from sclust.cli import COMMAND_ALIASES, main
from tests.conftest import cluster_config


@pytest.fixture
def config(tmp_path: Path, key_file: Path) -> Path:
    return cluster_config(tmp_path, key_file)


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output


@pytest.mark.parametrize("short, command", [("lc", "listclusters"), ("sm", "sshmaster"),
                                            ("sn", "sshnode"), ("an", "addnode"),
                                            ("rn", "removenode"), ("bal", "loadbalance"),
                                            ("rp", "runplugin"), ("ck", "createkey")])
def test_starcluster_short_command_names(short: str, command: str) -> None:
    status, output = invoke(short, "--help")
    assert status == 0 and f" {command} [OPTIONS]" in output


def test_every_short_name_of_an_existing_command_resolves() -> None:
    ctx = main.make_context("sclust", ["help"])
    names = set(main.list_commands(ctx))
    for short, command in COMMAND_ALIASES.items():
        assert short not in names  # a real command always wins over a short name
        if command in names:
            assert main.get_command(ctx, short).name == command  # type: ignore[union-attr]


def test_help_command() -> None:
    status, output = invoke("help")
    assert status == 0 and "Typical use:" in output
    status, output = invoke("help", "lc")
    assert status == 0 and "listclusters [OPTIONS] [TAG]..." in output
    status, output = invoke("help", "listclusterz")
    assert status == 1 and "no command 'listclusterz' (did you mean 'listclusters'?)" in output


def test_global_d_is_debug(config: Path) -> None:
    status, output = invoke("-d", "-c", str(config), "validate")
    assert status == 0 and "DEBUG sclust" in output


@pytest.mark.parametrize("command", [["terminate", "demo"], ["stop", "demo"],
                                     ["removenode", "demo", "-a", "node001"]])
def test_confirm_flag_is_yes(config: Path, moto_server: str, command: list[str],
                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server)
    for flag in ("-c", "--confirm", "-y"):
        status, output = invoke("-c", str(config), *command, flag)
        # Past the question: the cluster does not exist here, and nothing asked.
        assert status == 1 and "not confirmed" not in output
        assert "demo" in output


def test_addnode_letters_are_starcluster_s(config: Path) -> None:
    # -i is the AMI (tests/test_starcluster_utilities.py launches from it), -I the type.
    status, output = invoke("-c", str(config), "addnode", "demo", "-i", "t3.micro")
    assert status == 1 and "--image-id: 't3.micro' is not an AMI id" in output
    status, output = invoke("-c", str(config), "addnode", "demo", "-I", "t3 micro")
    assert status == 1 and "--instance-type: 't3 micro'" in output


def test_removenode_without_a_choice_removes_one(config: Path, moto_server: str,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server)
    status, output = invoke("-c", str(config), "removenode", "demo", "--yes")
    assert status == 1 and "give either" not in output and "demo" in output
    status, output = invoke("-c", str(config), "removenode", "demo", "-a", "node001", "-n", "1")
    assert status == 1 and "give either -a ALIAS or -n COUNT" in output


def test_several_tags_for_listclusters_stop_and_terminate(config: Path, key_file: Path,
                                                         moto_server: str,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    import json

    import requests

    from tests.conftest import run_sclust

    requests.post(f"{moto_server}/moto-api/reset", timeout=10)
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server)
    cfg = ["-c", str(config)]
    assert run_sclust(*cfg, "createkey", "mykey", "-i", str(key_file)).returncode == 0
    for tag in ("one", "two", "three"):
        result = run_sclust(*cfg, "start", tag, "--create-only")
        assert result.returncode == 0, result.stderr
    assert complete(config, "terminate", "t") == ["three", "two"]  # tags from EC2
    result = run_sclust(*cfg, "lc", "one", "three", "--json")
    assert [c["tag"] for c in json.loads(result.stdout)] == ["one", "three"]
    assert run_sclust(*cfg, "stop", "one", "two", "-c").returncode == 0
    result = run_sclust(*cfg, "terminate", "one", "two", "three", "--confirm")
    assert result.returncode == 0, result.stderr
    assert all(f"cluster {t!r} terminated" in result.stdout for t in ("one", "two", "three"))
    assert json.loads(run_sclust(*cfg, "listclusters", "--json").stdout) == []


def complete(config: Path, *words: str) -> list[str]:
    """What `sclust -c CONFIG WORDS…<TAB>` offers in bash (click's completion protocol)."""
    import os
    import subprocess
    import sys

    line = ["sclust", "-c", str(config), *words]
    done = subprocess.run([str(Path(sys.executable).parent / "sclust")], capture_output=True,
                          text=True, timeout=60,
                          env={**os.environ, "_SCLUST_COMPLETE": "bash_complete",
                               "COMP_WORDS": " ".join(line), "COMP_CWORD": str(len(line) - 1)})
    return [item.split(",", 1)[1] for item in done.stdout.split()]


def test_shell_completion_of_templates(config: Path) -> None:
    assert complete(config, "validate", "sm") == ["small"]
    assert complete(config, "start", "demo", "-c", "") == ["small"]


@pytest.mark.parametrize("answer, user", [
    ('Please login as the user "ubuntu" rather than the user "root".', "ubuntu"),
    ('Please login as the user \\"ec2-user\\" rather than the user \\"root\\".', "ec2-user"),
    ("Please login as the user admin rather than the user root.", "admin"),
    ('Please login as the user "x;rm -rf /" rather than the user "root".', None),
])
def test_the_user_an_image_names_for_root_logins(answer: str, user: str | None) -> None:
    """sshmaster's default when root is refused: the user the image's answer names (cloud-init
    on Ubuntu, Amazon Linux, Debian), never something that is not a plain user name."""
    from sclust.ssh import LOGIN_AS

    match = LOGIN_AS.search(answer)
    assert (match.group(1) if match else None) == user

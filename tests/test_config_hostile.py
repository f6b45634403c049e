"""What a tired user or a hostile file can put in a config or on the command line: each is a
clear error naming file and line (or the option), never "unexpected" and never a hang."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from sclust.cli import main
from tests.conftest import cluster_config


def validate(path: Path) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["-c", str(path), "validate"])
    assert "unexpected" not in result.output and "Traceback" not in result.output, result.output
    return result.exit_code, result.output


@pytest.fixture
def config(tmp_path: Path, key_file: Path) -> Path:
    return cluster_config(tmp_path, key_file)


def edit(path: Path, old: str, new: str) -> Path:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))
    return path


@pytest.mark.parametrize("before, after, expected", [
    ("[cluster small]", "[ ]\n[cluster small]", ":7: empty section header '[ ]'"),
    ("CLUSTER_SIZE = 3", "CLUSTER_SIZE = 1_000", ":9: [cluster small] CLUSTER_SIZE: '1_000'"),
    ("CLUSTER_SIZE = 3", "CLUSTER_SIZE = 3\nSPOT_BID = nan", ":10: [cluster small] SPOT_BID:"),
    ("CLUSTER_SIZE = 3", "CLUSTER_SIZE = 3\nSPOT_BID = inf", ":10: [cluster small] SPOT_BID:"),
    ("[global]", "[aws info]\nAWS_REGION_NAME = us-east-1; rm -rf /\n[global]",
     ":2: [aws info] AWS_REGION_NAME: 'us-east-1; rm -rf /' is not a region name"),
    ("[global]", "[aws info]\nAWS_REGION_HOST = ec2 .amazonaws.com\n[global]",
     ":2: [aws info] AWS_REGION_HOST:"),
    ("[global]", "[global]\nINCLUDE = ~nosuchuser42/x", ":2: [global] INCLUDE: '~nosuchuser42/x'"),
    ("[global]", "[global]\nINCLUDE = /dev/zero", ":2: [global] INCLUDE: config file '/dev/zero' "
                                                  "is not a regular file"),
])
def test_config_mistakes_name_file_and_line(config: Path, before: str, after: str,
                                            expected: str) -> None:
    status, output = validate(edit(config, before, after))
    assert status == 1
    assert f"{config}{expected}" in output, output


def test_a_fifo_as_include_fails_at_once(config: Path, tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    status, output = validate(edit(config, "[global]", f"[global]\nINCLUDE = {fifo}"))
    assert status == 1 and "is not a regular file" in output


def test_a_huge_key_path_is_refused(config: Path, key_file: Path) -> None:
    status, output = validate(edit(config, str(key_file), "/" + "a" * 1_000_000))
    assert status == 1 and f"{config}:5: [key mykey] KEY_LOCATION: path is" in output


def test_validate_checks_templates_meant_to_be_extended(tmp_path: Path, key_file: Path) -> None:
    path = tmp_path / "config"
    path.write_text(f"[key k]\nKEY_LOCATION = {key_file}\n[cluster a]\nEXTENDS = b\n"
                    "[cluster b]\nEXTENDS = a\n")
    status, output = validate(path)
    assert status == 1
    assert f"{path}:4: [cluster a] EXTENDS: EXTENDS cycle: a -> b -> a" in output


@pytest.mark.parametrize("argv, expected", [
    (["cost", "any", "--hours", "nan"], "is not a finite number"),
    (["simulate", "--interval", "inf"], "is not a finite number"),
    (["start", "demo", "-i", "t3 micro;id"], "--node-instance-type: 't3 micro;id'"),
    (["start", "demo", "-m", "ami-1;id"], "--master-image-id: 'ami-1;id'"),
    (["addnode", "demo", "-I", "$(id)"], "--instance-type: '$(id)'"),
    # StarCluster's letters: -i is the AMI, -I the type (a type given to -i is refused).
    (["addnode", "demo", "-i", "t3.micro"], "--image-id: 't3.micro' is not an AMI id"),
    (["addnode", "demo", "-n", "100000"], "add 100000 nodes to 'demo'? — not confirmed"),
])
def test_command_line_values_are_checked_like_config_values(config: Path, argv: list[str],
                                                            expected: str) -> None:
    result = CliRunner().invoke(main, ["-c", str(config), *argv])
    assert result.exit_code in (1, 2), result.output
    assert expected in result.output, result.output
    assert "unexpected" not in result.output and "Traceback" not in result.output


@pytest.mark.parametrize("content, expected", [
    (None, "user-data script '{path}' does not exist"),
    (b"\xff\xfe binary", "is not UTF-8 text"),
    (b"#!/bin/sh\n" + b"x" * 20000, "bytes (at most 16384)"),
])
def test_userdata_scripts_are_checked_by_validate_before_anything_is_created(
        config: Path, tmp_path: Path, content: bytes | None, expected: str) -> None:
    script = tmp_path / "setup.sh"
    if content is not None:
        script.write_bytes(content)
    status, output = validate(edit(config, "CLUSTER_SIZE = 3",
                                   f"CLUSTER_SIZE = 3\nUSERDATA_SCRIPTS = {script}"))
    assert status == 1
    assert f"{config}:10: [cluster small] USERDATA_SCRIPTS: " in output, output
    assert expected.format(path=script) in output, output

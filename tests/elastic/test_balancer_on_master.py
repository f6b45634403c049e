"""The pieces of `loadbalance --on-master` below SSH: the wheel of the operator's own sclust,
the service's arguments and config, and the least-privilege policy (the service itself runs in
tests/localcloud/test_balancer_on_master_e2e.py)."""

from __future__ import annotations

import configparser
import hashlib
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from sclust.config import load_config
from sclust.elastic.balancer_policy import balancer_iam_policy
from sclust.elastic.cli import loadbalance
from sclust.elastic.onmaster import (
    control_run,
    install_run,
    master_config,
    parse_control,
    service_args,
    template_args,
)
from sclust.elastic.wheel import (
    MAPPED_PACKAGES,
    Target,
    build_wheel,
    package_files,
    pinned_requirements,
    wheelhouse_archive,
)
from sclust.errors import ConfigError, SclustError
from tests.conftest import REPO, cluster_config


def test_mapped_packages_are_those_setup_cfg_maps() -> None:
    setup = configparser.ConfigParser()
    setup.read(REPO / "setup.cfg")
    mapped = {line.split("=")[0].strip() for line in
              setup["options"]["package_dir"].strip().splitlines()} - {"sclust"}
    # A mapped package inside another mapped one comes with its parent's folder.
    assert {p for p in mapped if not any(p.startswith(m + ".") for m in mapped)} \
        == set(MAPPED_PACKAGES)


def test_the_wheel_holds_the_running_sclust_and_installs(tmp_path: Path) -> None:
    wheel = build_wheel(tmp_path)
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        for name, source in package_files().items():
            assert hashlib.sha256(archive.read(name)).digest() == \
                hashlib.sha256(source.read_bytes()).digest()
        meta = archive.read(next(n for n in names if n.endswith("/METADATA"))).decode()
        entry = archive.read(next(n for n in names if n.endswith("entry_points.txt"))).decode()
    for must in ("sclust/cli.py", "sclust/sge/scheduler.py", "sclust/sge/scripts/requeue.sh",
                 "sclust/elastic/scripts/balancer-install.sh", "sclust/data/prices.json",
                 "sclust/plugins/__init__.py"):
        assert must in names
    assert not any("__pycache__" in n or n.endswith(".pyc") for n in names)
    assert "Requires-Dist: boto3>=1.28" in meta and "moto" not in meta
    assert "sclust = sclust.cli:entry" in entry
    # pip accepts it (no dependency resolution here: they are installed already).
    target = tmp_path / "site"
    done = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps",
                           "--target", str(target), str(wheel)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert (target / "sclust" / "elastic" / "onmaster.py").is_file()


def test_service_arguments_are_what_loadbalance_parses() -> None:
    args = service_args("demo", 10.0, 5, 2, 60.0, 1, 180.0, 300.0, 900.0, "hour", 600.0,
                        90.0, True)
    context = loadbalance.make_context("loadbalance", list(args))
    params = context.params
    assert (params["tag"], params["interval"], params["max_nodes"], params["min_nodes"]) == \
        ("demo", 10.0, 5, 2)
    assert (params["max_wait"], params["add_per_iteration"], params["stabilization"]) == \
        (60.0, 1, 180.0)
    assert (params["idle_timeout"], params["wait_target"], params["billing"]) == \
        (300.0, 900.0, "hour")
    assert (params["join_grace"], params["answer_grace"], params["no_reconcile"]) == \
        (600.0, 90.0, True)
    assert not params["on_master"]  # the service runs the loop itself


def test_the_master_config_has_no_credentials_and_refuses_odd_values() -> None:
    text = master_config("my key", "eu-west-1")
    parsed = configparser.ConfigParser()
    parsed.read_string(text)
    assert parsed["global"]["CLOUD"] == "aws"
    assert parsed["aws info"]["AWS_REGION_NAME"] == "eu-west-1"
    assert parsed["key my key"]["KEY_LOCATION"] == "/etc/sclust-balancer/key.pem"
    assert "SECRET" not in text and "ACCESS_KEY" not in text
    with pytest.raises(SclustError):
        master_config("bad\nkey", None)
    with pytest.raises(SclustError):
        master_config("k", "us-east-1\n[global]")


def test_secrets_travel_as_inputs_never_in_the_command(tmp_path: Path) -> None:
    wheel = tmp_path / "sclust_hpc-1.0-py3-none-any.whl"
    wheel.write_bytes(b"PK")
    run = install_run(wheel, "[global]\n", "-----BEGIN KEY-----\nsecret\n", ["demo"])
    assert "secret" not in run.describe()
    assert run.inputs["balancer_key"].endswith("secret\n")
    with pytest.raises(SclustError):
        install_run(tmp_path / "x;reboot.whl", "", "", [])
    with pytest.raises(ValueError):
        control_run("reboot")


def test_control_output_is_parsed() -> None:
    state = parse_control("balancer-state running\nbalancer-version 0.1.0\n"
                          "balancer-args demo -i 5\nbalancer-last #3 workers 1\n")
    assert (state.state, state.version, state.args, state.last) == \
        ("running", "0.1.0", "demo -i 5", "#3 workers 1")
    assert parse_control("balancer-state stopped\nline one\nline two\n").log == \
        "line one\nline two"


def test_the_policy_lets_the_balancer_change_only_its_own_cluster() -> None:
    policy = balancer_iam_policy("demo", node_role_arn="arn:aws:iam::1:role/demo-nodes")
    for statement in policy["Statement"]:
        actions = statement["Action"] if isinstance(statement["Action"], list) \
            else [statement["Action"]]
        assert all(a.startswith(("ec2:", "iam:PassRole")) and "*" not in a for a in actions)
        mutating = [a for a in actions if not a.startswith("ec2:Describe")]
        if not mutating:
            continue
        resources = statement["Resource"]
        resources = resources if isinstance(resources, list) else [resources]
        touches_instances = any(":instance/" in r for r in resources)
        if touches_instances:
            # Launching, tagging, stopping, terminating an instance: only the cluster's.
            condition = statement["Condition"]["StringEquals"]
            assert condition.get("aws:RequestTag/sclust:cluster") == "demo" \
                or condition.get("aws:ResourceTag/sclust:cluster") == "demo" \
                or condition.get("ec2:CreateAction"), statement
        assert "*" not in resources, statement
    kinds = {s["Sid"] for s in policy["Statement"]}
    assert {"LaunchOnlyTaggedForTheCluster", "StopTerminateOnlyTheClusters",
            "PassTheNodeRole"} <= kinds


def test_the_template_key_gives_the_service_its_settings(tmp_path: Path, key_file: Path) -> None:
    config = cluster_config(tmp_path, key_file, extra="""\
        LOADBALANCE = on-master
        LOADBALANCE_MAX_NODES = 6
        LOADBALANCE_INTERVAL = 20
        LOADBALANCE_WAIT_TARGET = 900
        """)
    template = load_config(config).template()
    assert template.loadbalance == "on-master"
    args = template_args("demo", template)
    params = loadbalance.make_context("loadbalance", list(args)).params
    assert (params["max_nodes"], params["min_nodes"], params["interval"]) == (6, 1, 20.0)
    assert (params["wait_target"], params["idle_timeout"]) == (900.0, None)


def test_a_bad_loadbalance_value_names_its_line(tmp_path: Path, key_file: Path) -> None:
    config = cluster_config(tmp_path, key_file, extra="LOADBALANCE = yes\n")
    with pytest.raises(ConfigError) as error:
        load_config(config).template()
    assert "LOADBALANCE" in str(error.value) and f"{config}:" in str(error.value)


def test_the_masters_python_is_read_strictly() -> None:
    assert Target.parse("3 11 x86_64\n") == Target((3, 11), "x86_64")
    assert Target.parse("3 12 aarch64").tag == "cp312-aarch64"
    for odd in ("", "3 11", "2 7 x86_64", "3 11 x86_64; rm -rf /", "3 11 ../../x"):
        assert Target.parse(odd) is None


def test_dependency_wheels_go_to_the_master_as_one_tar_input(tmp_path: Path) -> None:
    import base64
    import io
    import tarfile

    wheels = []
    for name in ("boto3-1.0-py3-none-any.whl", "six-1.0-py2.py3-none-any.whl"):
        (tmp_path / name).write_bytes(b"PK" + name.encode())
        wheels.append(tmp_path / name)
    archive = wheelhouse_archive(wheels)
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        assert sorted(tar.getnames()) == sorted(w.name for w in wheels)
        assert all(m.uid == 0 and m.isfile() for m in tar.getmembers())
    wheel = build_wheel(tmp_path)
    run = install_run(wheel, "[global]\n", "KEY", ["rc"], archive)
    assert base64.b64decode(run.inputs["balancer_deps"]) == archive
    assert "balancer_deps" not in install_run(wheel, "[global]\n", "KEY", ["rc"]).inputs
    # Pinned to what the operator runs.
    assert all("==" in r for r in pinned_requirements())

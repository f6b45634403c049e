"""The real CLI against a moto server: start → list → stop → start -x → add → remove → terminate."""

from __future__ import annotations

import json
import os
from pathlib import Path

import boto3
import pytest
import requests

from tests.conftest import run_sclust


@pytest.fixture
def endpoint(moto_server: str, monkeypatch: pytest.MonkeyPatch) -> str:
    requests.post(f"{moto_server}/moto-api/reset", timeout=10)
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server)
    return moto_server


def ec2(endpoint: str):
    return boto3.client("ec2", endpoint_url=endpoint, region_name="us-east-1")


def cluster_resources(endpoint: str, tag: str) -> dict[str, list[str]]:
    client = ec2(endpoint)
    filters = [{"Name": "tag:sclust:cluster", "Values": [tag]}]
    reservations = client.describe_instances(Filters=filters)["Reservations"]
    live = [i["InstanceId"] for r in reservations for i in r["Instances"]
            if i["State"]["Name"] != "terminated"]
    groups = [g["GroupId"] for g in client.describe_security_groups(Filters=filters)[
        "SecurityGroups"]]
    spots = [s["SpotInstanceRequestId"] for s in client.describe_spot_instance_requests(
        Filters=filters)["SpotInstanceRequests"] if s["State"] in ("open", "active")]
    return {"instances": live, "groups": groups, "spot_requests": spots}


def listed(config: Path, tag: str) -> dict:
    result = run_sclust("-c", str(config), "listclusters", tag, "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)[0]


def test_cluster_round_trip_leaves_nothing_behind(endpoint: str, config_file: Path,
                                                  key_file: Path) -> None:
    cfg = ["-c", str(config_file)]
    result = run_sclust(*cfg, "createkey", "mykey", "-i", str(key_file))
    assert result.returncode == 0, result.stderr
    # Host keys pinned for an earlier cluster of the same name must not outlive it.
    known = Path(os.environ["SCLUST_HOME"]) / "known_hosts" / "us-east-1" / "demo"
    known.parent.mkdir(parents=True)
    known.write_text("198.18.0.2 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOld\n")

    result = run_sclust(*cfg, "start", "demo", "--create-only")
    assert result.returncode == 0, result.stderr
    assert not known.exists()
    info = listed(config_file, "demo")
    assert [n["alias"] for n in info["nodes"]] == ["master", "node001", "node002"]
    assert {n["state"] for n in info["nodes"]} == {"running"}
    assert info["template"] == "small"

    result = run_sclust(*cfg, "stop", "demo", "--yes")
    assert result.returncode == 0, result.stderr
    assert {n["state"] for n in listed(config_file, "demo")["nodes"]} == {"stopped"}

    result = run_sclust(*cfg, "start", "-x", "demo", "--create-only")
    assert result.returncode == 0, result.stderr
    assert {n["state"] for n in listed(config_file, "demo")["nodes"]} == {"running"}

    result = run_sclust(*cfg, "addnode", "demo", "-n", "2", "--no-setup")
    assert result.returncode == 0, result.stderr
    aliases = [n["alias"] for n in listed(config_file, "demo")["nodes"]]
    assert aliases == ["master", "node001", "node002", "node003", "node004"]

    result = run_sclust(*cfg, "removenode", "demo", "-a", "node002", "--yes", "--no-setup")
    assert result.returncode == 0, result.stderr
    aliases = [n["alias"] for n in listed(config_file, "demo")["nodes"]]
    assert aliases == ["master", "node001", "node003", "node004"]

    # The freed number is reused by the next single node.
    result = run_sclust(*cfg, "addnode", "demo", "--no-setup")
    assert result.returncode == 0, result.stderr
    assert "node002" in result.stdout

    result = run_sclust(*cfg, "terminate", "demo", "--yes")
    assert result.returncode == 0, result.stderr
    assert cluster_resources(endpoint, "demo") == {
        "instances": [], "groups": [], "spot_requests": []}


def test_terminate_without_yes_and_no_terminal_refuses(endpoint: str, config_file: Path,
                                                       key_file: Path) -> None:
    cfg = ["-c", str(config_file)]
    assert run_sclust(*cfg, "createkey", "mykey", "-i", str(key_file)).returncode == 0
    assert run_sclust(*cfg, "start", "keep", "-o").returncode == 0
    result = run_sclust(*cfg, "terminate", "keep")
    assert result.returncode == 1
    assert "pass --yes" in result.stderr
    ids = cluster_resources(endpoint, "keep")["instances"]
    for alias in ("keep-master", "keep-node001", "keep-node002"):  # named before asking
        assert alias in result.stdout
    assert all(i in result.stdout for i in ids)
    assert len(cluster_resources(endpoint, "keep")["instances"]) == 3


def test_createkey_import_is_idempotent_and_refuses_another_key(
    endpoint: str, config_file: Path, key_file: Path, tmp_path: Path
) -> None:
    from tests.conftest import write_key

    cfg = ["-c", str(config_file)]
    assert run_sclust(*cfg, "createkey", "mykey", "-i", str(key_file)).returncode == 0
    again = run_sclust(*cfg, "createkey", "mykey", "-i", str(key_file))
    assert again.returncode == 0 and "already" in again.stdout
    other = run_sclust(*cfg, "createkey", "mykey", "-i", str(write_key(tmp_path / "o.pem")))
    assert other.returncode == 1 and "with another key" in other.stderr
    created = run_sclust(*cfg, "createkey", "fresh", "-o", str(tmp_path / "fresh.pem"))
    assert created.returncode == 0, created.stderr
    assert (tmp_path / "fresh.pem").stat().st_mode & 0o777 == 0o600

"""StarCluster's habits and utility commands on real hosts (issue 13 items 3 and 4):
sshmaster logs in as root where the image allows it and as the user the image names
otherwise; listclusters -s; createvolume -> [volume] -> start mounts it; ebsimage of a
customized node -> a new cluster from that image has the customization."""

from __future__ import annotations

import json
import re
from pathlib import Path

from localcloud_helpers import IMAGE, UBUNTU_IMAGE, cluster_config

from tests.conftest import run_sclust


def sclust(config: Path, env: dict, *args: str, status: int = 0, timeout: float = 400):
    result = run_sclust("-c", str(config), *args, env=env, timeout=timeout)
    assert result.returncode == status, (f"sclust {' '.join(args)}:\n{result.stdout}\n"
                                         f"{result.stderr}")
    return result


def test_ssh_login_follows_the_image_and_listclusters_s(cloud, tmp_path: Path) -> None:
    env = {"SCLUST_LOCAL_DIR": str(cloud.state_dir)}
    # An Ubuntu-like image answers root with "Please login as the user "ubuntu"".
    config = cluster_config(cloud, tmp_path, "ub", f"NODE_IMAGE_ID = {UBUNTU_IMAGE}\n", size=2)
    try:
        sclust(config, env, "start", "ub", "--create-only")
        assert sclust(config, env, "sshmaster", "ub", "whoami").stdout.strip() == "ubuntu"
        assert sclust(config, env, "sn", "ub", "node001", "whoami").stdout.strip() == "ubuntu"
        nodes = json.loads(sclust(config, env, "lc", "ub", "-s", "--json").stdout)[0]["nodes"]
        assert [n["ssh"].split()[0] for n in nodes] == ["up", "up"], nodes
        master = nodes[0]["instance_id"]
        # sshinstance finds the key by the instance's key pair and logs in the same way.
        assert sclust(config, env, "si", master, "whoami").stdout.strip() == "ubuntu"
    finally:
        sclust(config, env, "terminate", "ub", "-y")


def test_createvolume_section_then_start_mounts_it(cloud, tmp_path: Path) -> None:
    env = {"SCLUST_LOCAL_DIR": str(cloud.state_dir)}
    config = cluster_config(cloud, tmp_path, "vt", "LOGIN_USER = root\n")
    made = sclust(config, env, "createvolume", "1", cloud.zone, "-n", "projects")
    section = made.stdout[made.stdout.index("[volume projects]"):]
    volume_id = re.search(r"VOLUME_ID = (vol-\w+)", section).group(1)
    # The helper host is gone, the volume is free and tagged.
    listed = {v["volume_id"]: v for v in json.loads(sclust(config, env, "lv", "--json").stdout)}
    assert listed[volume_id]["state"] == "available" and listed[volume_id]["name"] == "projects"
    helpers = cloud.ec2.describe_instances(Filters=[
        {"Name": "tag-key", "Values": ["sclust:helper"]},
        {"Name": "instance-state-name", "Values": ["pending", "running", "stopping",
                                                  "stopped"]}])["Reservations"]
    assert helpers == []
    text = config.read_text().replace("[cluster vt]\n", "[cluster vt]\nVOLUMES = projects\n")
    config.write_text(text + "\n" + section)
    try:
        sclust(config, env, "start", "vt")
        mounted = sclust(config, env, "sshmaster", "vt",
                         "findmnt -n -o FSTYPE,TARGET /projects; e2label $(findmnt -n -o "
                         "SOURCE /projects)").stdout.split()
        assert mounted == ["ext4", "/projects", "projects"]
        # The template uses it: removevolume refuses, even once the cluster is gone.
        refused = sclust(config, env, "removevolume", volume_id, "-y", status=1)
        assert "is attached to" in refused.stderr
    finally:
        sclust(config, env, "terminate", "vt", "-y")
    refused = sclust(config, env, "removevolume", volume_id, "-y", status=1)
    assert "used by [cluster vt]" in refused.stderr
    config.write_text(text)
    sclust(config, env, "removevolume", volume_id, "-y")


def test_ebsimage_of_a_customized_node_carries_it_to_a_new_cluster(cloud,
                                                                    tmp_path: Path) -> None:
    env = {"SCLUST_LOCAL_DIR": str(cloud.state_dir)}
    config = cluster_config(cloud, tmp_path, "orig", "LOGIN_USER = root\n")
    image_id = None
    try:
        sclust(config, env, "start", "orig", "--create-only")
        sclust(config, env, "sshmaster", "orig", "echo brown-tutorial > /etc/customized")
        master = json.loads(sclust(config, env, "lc", "orig", "--json").stdout)[0]["nodes"][0]
        made = sclust(config, env, "ebsimage", master["instance_id"], "customized image")
        image_id = re.search(r"created (ami-\w+)", made.stdout).group(1)
        assert "rebooting it" in made.stderr
        shown = json.loads(sclust(config, env, "showimage", image_id, "--json").stdout)
        assert shown["state"] == "available"
        assert shown["tags"]["sclust:source-instance"] == master["instance_id"]
        sclust(config, env, "terminate", "orig", "-y")
        text = config.read_text().replace(f"NODE_IMAGE_ID = {IMAGE}",
                                          f"NODE_IMAGE_ID = {image_id}")
        config.write_text(text)
        sclust(config, env, "start", "copy", "--create-only")
        assert sclust(config, env, "sshmaster", "copy", "cat /etc/customized"
                      ).stdout.strip() == "brown-tutorial"
    finally:
        for tag in ("orig", "copy"):
            run_sclust("-c", str(config), "terminate", tag, "-y", env=env, timeout=300)
        if image_id:
            sclust(config, env, "removeimage", image_id, "-y")


def test_image_build_then_a_cluster_from_it_has_the_queue(cloud, tmp_path: Path) -> None:
    env = {"SCLUST_LOCAL_DIR": str(cloud.state_dir)}
    config = cluster_config(cloud, tmp_path, "built", "LOGIN_USER = root\n", size=2)
    image_id = None
    try:
        made = sclust(config, env, "image", "build", "built", "-n", "built image")
        image_id = re.search(r"built (ami-\w+)", made.stdout).group(1)
        shown = json.loads(sclust(config, env, "showimage", image_id, "--json").stdout)
        assert shown["state"] == "available"
        assert shown["tags"]["sclust:built-for-template"] == "built"
        assert "installing Grid Engine on the builder" in made.stderr
        # The builder is gone.
        live = cloud.ec2.describe_instances(Filters=[
            {"Name": "tag-key", "Values": ["sclust:helper"]},
            {"Name": "instance-state-name", "Values": ["pending", "running"]}])["Reservations"]
        assert live == []
        config.write_text(config.read_text().replace(f"NODE_IMAGE_ID = {IMAGE}",
                                                     f"NODE_IMAGE_ID = {image_id}"))
        sclust(config, env, "start", "fromimg")
        exec_hosts = sclust(config, env, "sshmaster", "fromimg", "qconf -sel").stdout.split()
        assert sorted(exec_hosts) == ["master", "node001"]
    finally:
        run_sclust("-c", str(config), "terminate", "fromimg", "-y", env=env, timeout=300)
        if image_id:
            sclust(config, env, "removeimage", image_id, "-y")

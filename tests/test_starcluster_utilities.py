# ruff: noqa: F811  (the fixtures imported below are parameters of the tests)
"""StarCluster's utility commands (issue 13 item 4) and addnode -i / listclusters -s
(item 3) against moto: what they list, what they refuse, what they leave behind."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from sclust.cli import main
from sclust.ec2admin import EC2Admin
from sclust.errors import CloudError
from sclust.progress import Progress
from tests.conftest import cluster_config
from tests.test_ec2_faults import (  # noqa: F401  (cloud, manager: fixtures)
    cloud,
    manager,
)


def template_for(tmp_path: Path, key_file: Path, cloud, size: int = 3):
    """The test config's template; its key pair imported into moto once."""
    from sclust.config import load_config
    from sclust.keys import public_key_openssh

    if cloud.key_fingerprint("mykey") is None:
        cloud.import_key_pair("mykey", public_key_openssh(key_file))
    return load_config(cluster_config(tmp_path, key_file, "", size)).template("small")


@pytest.fixture
def admin_cloud(cloud) -> EC2Admin:
    from sclust.config import AwsSettings

    return EC2Admin(AwsSettings(region="us-east-1", endpoint_url=cloud.client.meta.endpoint_url))


@pytest.fixture
def cli(tmp_path: Path, key_file: Path, cloud, monkeypatch: pytest.MonkeyPatch):
    """`sclust -c CONFIG …` against the moto server (the config's template uses VOLUMES)."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", cloud.client.meta.endpoint_url)
    config = cluster_config(tmp_path, key_file, extra="VOLUMES = shared\n")
    with config.open("a") as out:
        out.write("\n[volume shared]\nVOLUME_ID = vol-0000000000shared\nMOUNT_PATH = /shared\n")

    def run(*args: str, stdin: str | None = None) -> tuple[int, str]:
        result = CliRunner().invoke(main, ["-c", str(config), *args], input=stdin)
        return result.exit_code, result.output

    return run


def an_image(cloud, manager, tmp_path, key_file, name: str = "custom") -> str:
    """A real image in moto: CreateImage of a running instance."""
    info = manager.start("base", template_for(tmp_path, key_file, cloud, size=1),
                         configure=False)
    reply = cloud.client.create_image(InstanceId=info.master.instance_id, Name=name)
    return reply["ImageId"]


# ---- item 3 leftovers ------------------------------------------------------------------------


def test_addnode_i_launches_the_new_node_from_that_ami(tmp_path, key_file, cloud,
                                                        manager) -> None:
    image = an_image(cloud, manager, tmp_path, key_file)
    manager.start("mixed", template_for(tmp_path, key_file, cloud, size=2), configure=False)
    added = manager.add_nodes("mixed", 1, [], configure=False, image_id=image,
                              instance_type="t3.large")
    assert [(n.image_id, n.instance_type) for n in added] == [(image, "t3.large")]
    # EC2 records it on the node: the listing shows it (and the others keep theirs).
    nodes = {n.alias: n for n in manager.get("mixed").nodes}
    assert nodes[added[0].alias].image_id == image
    assert nodes["master"].image_id == "ami-12345678"


def test_addnode_i_with_an_unknown_ami_launches_nothing(tmp_path, key_file, cloud,
                                                        manager) -> None:
    manager.start("strict", template_for(tmp_path, key_file, cloud, size=1), configure=False)
    with pytest.raises(CloudError, match="ami-0badbad0"):
        manager.add_nodes("strict", 1, [], configure=False, image_id="ami-0badbad0")
    assert [n.alias for n in manager.get("strict").nodes] == ["master"]


def test_addnode_cli_honours_starcluster_letters(cli, tmp_path, key_file, cloud,
                                                 manager) -> None:
    image = an_image(cloud, manager, tmp_path, key_file)
    manager.start("demo", template_for(tmp_path, key_file, cloud, size=1), configure=False)
    status, output = cli("addnode", "demo", "-i", image, "-I", "t3.small", "--no-setup")
    assert status == 0, output
    node = [n for n in manager.get("demo").workers][0]
    assert (node.image_id, node.instance_type) == (image, "t3.small")
    status, output = cli("addnode", "demo", "-i", "t3.micro")
    assert status == 1 and "is not an AMI id" in output and "the instance type is -I" in output


def test_listclusters_s_reports_ssh_status_per_node_in_bounded_time(
        cli, tmp_path, key_file, cloud, manager) -> None:
    import time

    manager.start("seen", template_for(tmp_path, key_file, cloud, size=3), configure=False)
    began = time.monotonic()
    status, output = cli("listclusters", "seen", "-s", "--json")
    assert status == 0, output
    nodes = json.loads(output)[0]["nodes"]
    # moto's addresses are not reachable from here (SCLUST_SSH_ONLY_TO refuses them): every
    # node is reported down with the reason, none is skipped, and it took no SSH timeouts.
    assert len(nodes) == 3 and all(n["ssh"].startswith("down: refusing to connect")
                                   for n in nodes)
    assert time.monotonic() - began < 20
    status, output = cli("listclusters", "seen", "-s")
    assert status == 0 and " ssh " in output.replace("│", " ")
    status, output = cli("listclusters", "seen", "--json")
    assert "ssh" not in json.loads(output)[0]["nodes"][0]


# ---- listings --------------------------------------------------------------------------------


def test_listings_in_json(cli, tmp_path, key_file, cloud, manager) -> None:
    info = manager.start("lst", template_for(tmp_path, key_file, cloud, size=2),
                         configure=False)
    status, output = cli("listinstances", "--json")
    assert status == 0, output
    rows = {r["instance_id"]: r for r in json.loads(output)}
    assert {n.instance_id for n in info.nodes} <= set(rows)
    assert {rows[n.instance_id]["alias"] for n in info.nodes} == {"master", "node001"}
    assert rows[info.master.instance_id]["cluster"] == "lst"
    status, output = cli("lk", "--json")
    assert status == 0 and "mykey" in [k["name"] for k in json.loads(output)]
    status, output = cli("lr", "--json")
    assert status == 0 and "eu-west-1" in [r["region"] for r in json.loads(output)]
    status, output = cli("lz", "--json")
    assert status == 0 and "us-east-1a" in [z["zone"] for z in json.loads(output)]
    status, output = cli("listinstances")
    assert status == 0 and info.master.instance_id in output


def test_terminated_instances_only_with_x(cli, tmp_path, key_file, cloud, manager) -> None:
    info = manager.start("gone", template_for(tmp_path, key_file, cloud, size=1),
                         configure=False)
    cloud.terminate_instances([info.master.instance_id])
    _, output = cli("lsi", "--json")
    assert info.master.instance_id not in {r["instance_id"] for r in json.loads(output)}
    _, output = cli("lsi", "-x", "--json")
    assert info.master.instance_id in {r["instance_id"] for r in json.loads(output)}


def test_removekey_asks_and_deletes(cli, tmp_path, key_file, cloud) -> None:
    template_for(tmp_path, key_file, cloud)  # imports mykey
    status, output = cli("removekey", "mykey")
    assert status == 1 and "not confirmed" in output
    assert cloud.key_fingerprint("mykey") is not None
    status, output = cli("rk", "mykey", "-y")
    assert status == 0 and cloud.key_fingerprint("mykey") is None
    status, output = cli("removekey", "mykey", "-y")
    assert status == 1 and "no key pair 'mykey'" in output


def test_listspots_and_spothistory(cli, cloud) -> None:
    cloud.client.request_spot_instances(
        SpotPrice="0.05", InstanceCount=1,
        LaunchSpecification={"ImageId": "ami-12345678", "InstanceType": "t3.micro"})
    status, output = cli("ls", "--json")
    assert status == 0, output
    spots = json.loads(output)
    assert len(spots) == 1 and spots[0]["price"].startswith("0.05")
    status, output = cli("spothistory", "t3.micro", "--json")
    assert status == 0, output
    status, output = cli("spothistory", "t3 micro")
    assert status == 1 and "is not an instance type" in output


def test_price_plot_draws_each_zone() -> None:
    from datetime import datetime, timedelta, timezone

    from sclust.cloudadmin import SpotPrice
    from sclust.spotplot import price_plot, summary

    now = datetime(2026, 11, 1, tzinfo=timezone.utc)
    prices = [SpotPrice(now + timedelta(hours=h), zone, price)
              for h, zone, price in ((0, "a", 0.01), (5, "a", 0.03), (2, "b", 0.02),
                                     (9, "b", 0.02))]
    plot = price_plot(prices, "t3.micro").splitlines()
    assert plot[0] == "t3.micro" and plot[-1] == "* a  + b"
    assert plot[1].startswith("   0.0300 |") and "*" in plot[1]  # a's high at the top row
    assert "*" in plot[12] and "+" not in plot[1]
    assert summary(prices)[0] == ("a: current $0.0300/h, average $0.0200/h, max $0.0300/h "
                                  "(2 changes)")


def test_showconsole_and_gone_commands(cli, tmp_path, key_file, cloud, manager) -> None:
    info = manager.start("con", template_for(tmp_path, key_file, cloud, size=1),
                         configure=False)
    status, output = cli("sc", info.master.instance_id)
    assert status == 0 and output.strip()
    status, output = cli("showconsole", "vol-123")
    assert status == 1 and "is not an instance id" in output
    for gone in ("s3image", "simg", "downloadimage", "di"):
        status, output = cli(gone, "i-123", "name")
        assert status == 1 and "is gone:" in output and "ebsimage" in output or "copy" in output


@pytest.mark.parametrize("command", ["listinstances", "listkeypairs", "removekey", "listregions",
                                     "listzones", "listspots", "spothistory", "showconsole",
                                     "sshinstance", "createvolume", "listvolumes",
                                     "resizevolume", "removevolume", "listimages", "showimage",
                                     "removeimage", "ebsimage", "s3image", "downloadimage"])
def test_every_utility_command_explains_itself(command: str) -> None:
    result = CliRunner().invoke(main, [command, "--help"])
    assert result.exit_code == 0 and len(result.output.split("\n\n")[1]) > 30


# ---- volumes ---------------------------------------------------------------------------------


def test_createvolume_that_cannot_format_keeps_the_volume_and_removes_the_helper(
        cli, tmp_path, key_file, cloud) -> None:
    template_for(tmp_path, key_file, cloud)
    before_groups = {g["GroupId"] for g in
                     cloud.client.describe_security_groups()["SecurityGroups"]}
    status, output = cli("createvolume", "5", "us-east-1a", "-n", "scratch")
    # moto's helper cannot be reached over SSH (its address is refused): formatting fails.
    assert status == 1
    volumes = [v for v in cloud.client.describe_volumes()["Volumes"]
               if {"Key": "Name", "Value": "scratch"} in v.get("Tags", [])]
    assert len(volumes) == 1 and volumes[0]["State"] == "available"
    assert f"{volumes[0]['VolumeId']} (5 GiB, us-east-1a) was created but not formatted" in output
    helpers = [i for r in cloud.client.describe_instances(Filters=[
        {"Name": "tag-key", "Values": ["sclust:helper"]}])["Reservations"]
        for i in r["Instances"]]
    assert helpers and all(i["State"]["Name"] == "terminated" for i in helpers)
    after_groups = {g["GroupId"] for g in
                    cloud.client.describe_security_groups()["SecurityGroups"]}
    assert after_groups == before_groups


def test_createvolume_refuses_bad_input_before_creating(cli, tmp_path, key_file, cloud) -> None:
    template_for(tmp_path, key_file, cloud)
    for args, message in ((["5", "us-east-9z"], "no zone 'us-east-9z'"),
                          (["5", "us-east-1a", "-n", "../x"], "--name: volume name"),
                          (["0", "us-east-1a"], "0 is not in the range")):
        status, output = cli("createvolume", *args)
        assert status != 0 and message in output, output
    assert cloud.client.describe_volumes()["Volumes"] == []


def test_listvolumes_and_removevolume_rules(cli, tmp_path, key_file, cloud, manager,
                                            admin_cloud) -> None:
    info = manager.start("vols", template_for(tmp_path, key_file, cloud, size=1),
                         configure=False)
    free = admin_cloud.create_volume(2, "us-east-1a", {"Name": "free"})
    used = admin_cloud.create_volume(3, info.master.zone, {"Name": "used"})
    cloud.attach_volume(used.volume_id, info.master.instance_id, "/dev/sdf")
    status, output = cli("lv", "--json")
    listed = {v["volume_id"]: v for v in json.loads(output)}
    assert listed[free.volume_id]["name"] == "free" and not listed[free.volume_id]["attached_to"]
    assert info.master.instance_id in listed[used.volume_id]["attached_to"]
    status, output = cli("lv", "-a", "--json")
    assert used.volume_id not in {v["volume_id"] for v in json.loads(output)}
    status, output = cli("removevolume", used.volume_id, "-y")
    assert status == 1 and "is attached to" in output
    status, output = cli("removevolume", free.volume_id)
    assert status == 1 and "not confirmed" in output
    status, output = cli("rv", free.volume_id, "-y")
    assert status == 0 and admin_cloud.describe_volumes([used.volume_id])
    with pytest.raises(CloudError):
        admin_cloud.describe_volumes([free.volume_id])


def test_removevolume_refuses_a_volume_a_template_uses(tmp_path, key_file, cloud,
                                                       admin_cloud, monkeypatch) -> None:
    volume = admin_cloud.create_volume(2, "us-east-1a", {})
    config = cluster_config(tmp_path, key_file, extra="VOLUMES = shared\n")
    with config.open("a") as out:
        out.write(f"\n[volume shared]\nVOLUME_ID = {volume.volume_id}\nMOUNT_PATH = /shared\n"
                  "\n[cluster child]\nEXTENDS = small\n")
    monkeypatch.setenv("AWS_ENDPOINT_URL", cloud.client.meta.endpoint_url)
    result = CliRunner().invoke(main, ["-c", str(config), "removevolume", volume.volume_id,
                                       "-y"])
    assert result.exit_code == 1
    assert "used by [cluster small], [cluster child]" in result.output
    result = CliRunner().invoke(main, ["-c", str(config), "listvolumes", "--json"])
    assert json.loads(result.output)[0]["templates"] == "[cluster small], [cluster child]"


def test_resizevolume_only_grows(cli, admin_cloud, tmp_path, key_file, cloud) -> None:
    template_for(tmp_path, key_file, cloud)
    volume = admin_cloud.create_volume(4, "us-east-1a", {})
    status, output = cli("resizevolume", volume.volume_id, "3", "-y")
    assert status == 1 and "EBS volumes only grow" in output
    # Detached: grown, then its file system on a helper (unreachable on moto: the helper is
    # terminated, and the message says how to grow the file system alone).
    status, output = cli("resizevolume", volume.volume_id, "6", "-y")
    assert status == 1
    assert f"{volume.volume_id} is 6 GiB but its file system was not grown" in output
    assert f"`sclust resizevolume {volume.volume_id} 6` grows the file system only" in output
    helpers = [i for r in cloud.client.describe_instances(Filters=[
        {"Name": "tag-key", "Values": ["sclust:helper"]}])["Reservations"]
        for i in r["Instances"]]
    assert helpers and all(i["State"]["Name"] == "terminated" for i in helpers)
    status, output = cli("res", "vol-nothing1", "8", "-y")
    assert status == 1 and "vol-nothing1" in output
    assert admin_cloud.describe_volumes([volume.volume_id])[0].size == 6


# ---- images ----------------------------------------------------------------------------------


def test_ebsimage_then_list_show_and_remove(cli, tmp_path, key_file, cloud, manager,
                                            admin_cloud) -> None:
    info = manager.start("img", template_for(tmp_path, key_file, cloud, size=1),
                         configure=False)
    status, output = cli("ebsimage", info.master.instance_id, "my custom image",
                         "--no-reboot")
    assert status == 0, output
    image_id = output.split("created ")[1].split()[0]
    image = admin_cloud.image_info(image_id)
    assert image.state == "available" and image.name == "my custom image"
    assert image.tags["sclust:source-instance"] == info.master.instance_id
    status, output = cli("li", "--json")
    assert image_id in {i["image_id"] for i in json.loads(output)}
    status, output = cli("shimg", image_id, "--json")
    snapshots = json.loads(output)["snapshots"]
    assert status == 0 and snapshots
    status, output = cli("removeimage", image_id)
    assert status == 1 and "not confirmed" in output
    status, output = cli("ri", image_id, "-y")
    assert status == 0 and f"snapshots deleted: {', '.join(snapshots)}" in output
    assert cloud.client.describe_images(ImageIds=[image_id])["Images"] == [] or \
        cloud.client.describe_images(ImageIds=[image_id])["Images"][0]["State"] != "available"
    remaining = {s["SnapshotId"] for s in
                 cloud.client.describe_snapshots(OwnerIds=["self"])["Snapshots"]}
    assert not remaining & set(snapshots)


def test_ebsimage_refusals(cli, tmp_path, key_file, cloud, manager) -> None:
    info = manager.start("ref", template_for(tmp_path, key_file, cloud, size=1),
                         configure=False)
    status, output = cli("ebsimage", info.master.instance_id, "x")
    assert status == 1 and "3 to 128" in output
    status, output = cli("eimg", "i-0000000000000dead", "good name")
    assert status == 1 and "i-0000000000000dead" in output
    status, output = cli("removeimage", "ami-00000000dead")
    assert status == 1 and "is not one of your images" in output


def test_wait_for_image_shows_progress(tmp_path, key_file, cloud, manager, admin_cloud) -> None:
    from sclust.imageops import ebs_image

    info = manager.start("prog", template_for(tmp_path, key_file, cloud, size=1),
                         configure=False)
    image = ebs_image(admin_cloud, info.master.instance_id, "progress image", None, True,
                      Progress(quiet=True))
    assert image.state == "available" and image.tags["Name"] == "progress image"


def test_grow_volume_waits_for_ec2_then_reports_the_new_size(admin_cloud) -> None:
    volume = admin_cloud.create_volume(4, "us-east-1a", {"Name": "grow"})
    admin_cloud.grow_volume(volume.volume_id, 9)
    assert admin_cloud.describe_volumes([volume.volume_id])[0].size == 9


def test_a_volume_attached_then_detached_is_available_again(tmp_path, key_file, cloud, manager,
                                                            admin_cloud) -> None:
    info = manager.start("att", template_for(tmp_path, key_file, cloud, size=1),
                         configure=False)
    volume = admin_cloud.create_volume(1, info.master.zone, {"Name": "moving"})
    admin_cloud.attach_volume(volume.volume_id, info.master.instance_id, "/dev/sdz")
    attached = admin_cloud.wait_for_volume(volume.volume_id, "in-use", attached=True)
    assert attached.attachments[0].instance_id == info.master.instance_id
    admin_cloud.detach_volume(volume.volume_id, info.master.instance_id)
    assert admin_cloud.wait_for_volume(volume.volume_id, "available",
                                       attached=False).attachments == []


# ---- image build (item 5) --------------------------------------------------------------------


def test_image_build_installs_the_queue_and_package_plugins(tmp_path, key_file) -> None:
    from sclust.config import load_config
    from sclust.imagebuild import install_run

    config = cluster_config(tmp_path, key_file, extra="PLUGINS = tools, mpi, pip\n")
    with config.open("a") as out:
        out.write("\n[plugin tools]\nSETUP_CLASS = starcluster.plugins.pkginstaller."
                  "PackageInstaller\nPACKAGES = htop, git\n"
                  "\n[plugin mpi]\nSETUP_CLASS = starcluster.plugins.mpich2.MPICH2Setup\n"
                  "\n[plugin pip]\nSETUP_CLASS = starcluster.plugins.pypkginstaller."
                  "PyPkgInstaller\nPACKAGES = numpy\n")
    run, what = install_run(load_config(config).template("small"))
    assert what == ["Grid Engine", "htop, git, mpich"]  # pip packages stay for boot time
    assert [s.path for s in run.steps] == ["scripts/common.sh", "scripts/packages.sh",
                                           "scripts/packages.sh"]
    assert run.inputs["packages"].split() == ["htop", "git", "mpich"]


def test_image_build_that_fails_leaves_no_builder_and_no_image(cli, tmp_path, key_file,
                                                               cloud) -> None:
    template_for(tmp_path, key_file, cloud)
    groups = {g["GroupId"] for g in cloud.client.describe_security_groups()["SecurityGroups"]}
    status, output = cli("image", "build", "small", "-n", "never built")
    assert status == 1 and "refusing to connect" in output  # moto's helper is unreachable
    builders = [i for r in cloud.client.describe_instances(Filters=[
        {"Name": "tag-key", "Values": ["sclust:helper"]}])["Reservations"]
        for i in r["Instances"]]
    assert builders and all(i["State"]["Name"] == "terminated" for i in builders)
    assert {g["GroupId"] for g in
            cloud.client.describe_security_groups()["SecurityGroups"]} == groups
    assert cloud.client.describe_images(Owners=["self"])["Images"] == []


def test_createvolume_interrupted_terminates_the_helper_and_names_the_volume(
        moto_server, tmp_path, key_file, cloud) -> None:
    """The real CLI, sent SIGINT while it waits for its helper instance (EC2 calls slowed by
    a proxy): exit 130, the helper terminated, its group deleted, the volume kept and named."""
    import os
    import signal
    import subprocess
    import sys

    from tests.conftest import REPO
    from tests.ec2proxy import ec2_proxy

    template_for(tmp_path, key_file, cloud)
    config = cluster_config(tmp_path, key_file)
    groups = {g["GroupId"] for g in cloud.client.describe_security_groups()["SecurityGroups"]}
    with ec2_proxy(moto_server, delay=(0.1, 0.2), seed=1) as (url, state):
        process = subprocess.Popen(
            [sys.executable, "-m", "sclust.cli", "-c", str(config), "createvolume", "2",
             "us-east-1a", "-n", "cut"], cwd=REPO, text=True, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, env={**os.environ, "AWS_ENDPOINT_URL": url})
        launched: list[str] = []

        def interrupt(total: int, action: str) -> None:
            if action == "RunInstances":
                launched.append(action)
            elif launched and action == "DescribeInstances" and process.poll() is None:
                process.send_signal(signal.SIGINT)
                state.on_call = None

        state.on_call = interrupt
        _, err = process.communicate(timeout=120)
        state.wait_idle()
    assert process.returncode == 130, err
    volume = [v for v in cloud.client.describe_volumes()["Volumes"]
              if {"Key": "Name", "Value": "cut"} in v.get("Tags", [])][0]
    assert f"{volume['VolumeId']} (2 GiB, us-east-1a) was created but not formatted" in err
    assert "Traceback" not in err
    helpers = [i for r in cloud.client.describe_instances(Filters=[
        {"Name": "tag-key", "Values": ["sclust:helper"]}])["Reservations"]
        for i in r["Instances"]]
    assert len(helpers) == 1 and helpers[0]["State"]["Name"] == "terminated"
    assert {g["GroupId"] for g in
            cloud.client.describe_security_groups()["SecurityGroups"]} == groups


def test_names_from_the_cloud_are_shown_as_text(cli, admin_cloud) -> None:
    """A volume named like rich markup is listed as it is (it used to crash the table)."""
    hostile = admin_cloud.create_volume(1, "us-east-1a", {"Name": "[/x][b]v"})
    status, output = cli("lv")
    assert status == 0, output
    assert "[/x][b]v" in output
    admin_cloud.delete_volume(hostile.volume_id)


def test_control_characters_are_never_printed() -> None:
    from sclust.utilcli import printable

    assert printable("boot\x1b[2J\x07ok\n\tdone", keep="\n\t") == "boot?[2J?ok\n\tdone"
    assert printable("a\nb") == "a?b"

"""CreateImage captures an instance's root layer (running or stopped); an instance launched from
the new image boots with those files (and is a new instance: its own hostname, host key, user
data); DeregisterImage and DeleteSnapshot remove the image and its layer."""

from __future__ import annotations

import time

import pytest
from botocore.exceptions import ClientError
from localcloud_helpers import UBUNTU_IMAGE, launch, ssh_to, terminate, wait_state

from sclust.localcloud.settings import Layout


def wait_image(cloud, image_id: str) -> dict:  # type: ignore[no-untyped-def, type-arg]
    cloud.ec2.get_waiter("image_available").wait(
        ImageIds=[image_id], WaiterConfig={"Delay": 0.2, "MaxAttempts": 150})
    return cloud.ec2.describe_images(ImageIds=[image_id])["Images"][0]


def test_an_image_of_a_modified_instance_boots_with_the_modification(cloud):
    [source] = launch(cloud)
    created: list[dict] = []  # type: ignore[type-arg]
    try:
        ssh = ssh_to(cloud, source)
        ssh.run("mkdir -p /opt/app && echo v1 > /opt/app/version && useradd -u 2468 builder "
                "&& rm /etc/rc.local && echo ok > /var/tmp/kept")
        old_key = ssh.run("cat /etc/ssh/ssh_host_ed25519_key.pub")[1]
        ssh.close()
        image_id = cloud.ec2.create_image(InstanceId=source["InstanceId"],
                                          Name="sclust-test-running")["ImageId"]
        image = wait_image(cloud, image_id)
        assert image["State"] == "available"
        assert image["RootDeviceName"] == source["RootDeviceName"]
        snapshot_id = image["BlockDeviceMappings"][0]["Ebs"]["SnapshotId"]
        assert (Layout(cloud.state_dir).images_dir / snapshot_id / "opt/app/version").exists()

        user_data = "#!/bin/sh\necho ran > /root/user-data-ran\n"  # boto3 encodes it
        [copy] = launch(cloud, ImageId=image_id, UserData=user_data)
        created.append(copy)
        ssh = ssh_to(cloud, copy)
        assert ssh.run("cat /opt/app/version")[1] == "v1\n"
        assert ssh.run("id -u builder")[1].strip() == "2468"
        assert ssh.run("test -e /etc/rc.local", check=False)[0] != 0  # a deletion is kept too
        assert ssh.run("hostname")[1].strip() == "ip-" + copy["PrivateIpAddress"].replace(".",
                                                                                            "-")
        assert ssh.run("cat /etc/ssh/ssh_host_ed25519_key.pub")[1] != old_key
        for _ in range(50):
            if ssh.run("test -e /var/lib/cloud/instance/boot-finished", check=False)[0] == 0:
                break
            time.sleep(0.1)
        assert ssh.run("cat /root/user-data-ran")[1] == "ran\n"
        ssh.close()

        # A stopped instance too; the new image has the source's later changes.
        ssh = ssh_to(cloud, source)
        ssh.run("echo v2 > /opt/app/version")
        ssh.close()
        cloud.ec2.stop_instances(InstanceIds=[source["InstanceId"]])
        wait_state(cloud, [source["InstanceId"]], "stopped")
        stopped_image = wait_image(cloud, cloud.ec2.create_image(
            InstanceId=source["InstanceId"], Name="sclust-test-stopped")["ImageId"])
        [second] = launch(cloud, ImageId=stopped_image["ImageId"])
        created.append(second)
        ssh = ssh_to(cloud, second)
        assert ssh.run("cat /opt/app/version")[1] == "v2\n"
        ssh.close()

        # The snapshot of a registered image cannot go; after deregistering, it can, and its
        # layer goes with it; the image can no longer be launched.
        with pytest.raises(ClientError, match="InvalidSnapshot.InUse"):
            cloud.ec2.delete_snapshot(SnapshotId=snapshot_id)
        cloud.ec2.deregister_image(ImageId=image_id)
        with pytest.raises(ClientError, match="InvalidAMIID.NotFound"):
            cloud.ec2.run_instances(ImageId=image_id, MinCount=1, MaxCount=1,
                                    KeyName=cloud.key_name, SubnetId=cloud.subnet_id)
        cloud.ec2.delete_snapshot(SnapshotId=snapshot_id)
        cloud.ec2.describe_vpcs()  # any change request syncs; the periodic sync too
        layer = Layout(cloud.state_dir).images_dir / snapshot_id
        for _ in range(30):
            if not layer.exists():
                break
            time.sleep(0.1)
        assert not layer.exists()
        # The instance made from it keeps its own root layer.
        ssh = ssh_to(cloud, copy)
        assert ssh.run("cat /opt/app/version")[1] == "v1\n"
        ssh.close()
    finally:
        terminate(cloud, [source, *created])


def test_an_image_keeps_its_source_images_login_rules(cloud):
    [source] = launch(cloud, ImageId=UBUNTU_IMAGE)
    try:
        image = wait_image(cloud, cloud.ec2.create_image(InstanceId=source["InstanceId"],
                                                         Name="sclust-test-ubuntu")["ImageId"])
        [copy] = launch(cloud, ImageId=image["ImageId"])
        try:
            root = ssh_to(cloud, copy, "root")
            assert root.run("true", check=False)[0] == 142
            root.close()
            ssh_to(cloud, copy, "ubuntu").close()
        finally:
            terminate(cloud, [copy])
    finally:
        terminate(cloud, [source])

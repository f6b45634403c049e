"""EBS volumes are loop devices over sparse files, at /dev/xvdX in the host."""

from __future__ import annotations

import time

from localcloud_helpers import launch, ssh_to, terminate, wait_state

from sclust.localcloud import volmount


def volume_state(cloud, volume_id):
    return cloud.ec2.describe_volumes(VolumeIds=[volume_id])["Volumes"][0]["State"]


def test_volume_data_moves_between_instances_and_survives_stop_start(cloud):
    first, second = launch(cloud, 2)
    volume_id = cloud.ec2.create_volume(Size=1, AvailabilityZone=cloud.zone)["VolumeId"]
    volume_file = cloud.state_dir / "volumes" / f"{volume_id}.img"
    try:
        cloud.ec2.attach_volume(VolumeId=volume_id, InstanceId=first["InstanceId"],
                                Device="/dev/sdf")
        ssh = ssh_to(cloud, first)
        _, out, _ = ssh.run("lsblk -bndo SIZE /dev/xvdf; mkfs.ext4 -q /dev/xvdf; "
                            "mkdir -p /data; mount /dev/xvdf /data; "
                            "echo payload > /data/file; chown 4321:4321 /data/file; umount /data")
        assert out.split()[0] == str(1024**3)
        ssh.close()
        assert volume_file.stat().st_blocks * 512 < 100 * 1024**2  # sparse
        cloud.ec2.detach_volume(VolumeId=volume_id, InstanceId=first["InstanceId"])
        ssh = ssh_to(cloud, first)
        assert ssh.run("test -e /dev/xvdf", check=False)[0] == 1
        ssh.close()

        cloud.ec2.attach_volume(VolumeId=volume_id, InstanceId=second["InstanceId"],
                                Device="/dev/sdg")
        ssh = ssh_to(cloud, second)
        ssh.run("mkdir -p /data; mount /dev/xvdg /data")
        assert ssh.run("cat /data/file; stat -c %u /data/file")[1].split() == ["payload", "4321"]
        ssh.run("echo more >> /data/file; umount /data")
        ssh.close()

        cloud.ec2.stop_instances(InstanceIds=[second["InstanceId"]])
        wait_state(cloud, [second["InstanceId"]], "stopped")
        cloud.ec2.start_instances(InstanceIds=[second["InstanceId"]])
        [second] = wait_state(cloud, [second["InstanceId"]], "running")
        ssh = ssh_to(cloud, second)
        ssh.run("mount /dev/xvdg /data")
        assert ssh.run("cat /data/file")[1] == "payload\nmore\n"
        ssh.run("umount /data")
        ssh.close()
        cloud.ec2.detach_volume(VolumeId=volume_id, InstanceId=second["InstanceId"])
        assert volume_state(cloud, volume_id) == "available"
    finally:
        terminate(cloud, [first, second])
    cloud.ec2.delete_volume(VolumeId=volume_id)
    deadline = time.monotonic() + 5
    while volume_file.exists():
        assert time.monotonic() < deadline, "deleting the volume kept its file"
        time.sleep(0.1)


def test_launch_block_device_mapping_gives_a_device_and_root_is_the_overlay(cloud):
    [instance] = launch(cloud, BlockDeviceMappings=[
        {"DeviceName": "/dev/sdh", "Ebs": {"VolumeSize": 2, "VolumeType": "gp3",
                                           "DeleteOnTermination": True}}])
    try:
        ssh = ssh_to(cloud, instance)
        _, out, _ = ssh.run("lsblk -bndo SIZE /dev/xvdh; findmnt -no FSTYPE /")
        assert out.split() == [str(2 * 1024**3), "overlay"]
        assert ssh.run("test -e /dev/xvda1 || test -e /dev/sda1", check=False)[0] == 1
        ssh.close()
    finally:
        terminate(cloud, [instance])


def test_a_volume_modified_to_a_larger_size_grows_online_with_resize2fs(cloud):
    """ModifyVolume grows the device an instance sees; `resize2fs` grows the mounted file
    system (the daemon issues the ioctl a host may not), and an unmounted one the usual way."""
    [instance] = launch(cloud)
    volume_id = cloud.ec2.create_volume(Size=1, AvailabilityZone=cloud.zone)["VolumeId"]
    try:
        cloud.ec2.attach_volume(VolumeId=volume_id, InstanceId=instance["InstanceId"],
                                Device="/dev/sdf")
        ssh = ssh_to(cloud, instance)
        ssh.run("mkfs.ext4 -q /dev/xvdf; mkdir -p /data; mount /dev/xvdf /data; "
                "echo kept > /data/file")
        cloud.ec2.modify_volume(VolumeId=volume_id, Size=2)
        deadline = time.monotonic() + 20
        while ssh.run("lsblk -bndo SIZE /dev/xvdf")[1].strip() != str(2 * 1024**3):
            assert time.monotonic() < deadline, "the device never grew"
            time.sleep(0.2)
        if volmount.can_resize_online():
            ssh.run("resize2fs /dev/xvdf")
            size = int(ssh.run("df -B1 --output=size /data | tail -1")[1])
            assert size > 1.8 * 1024**3
            assert ssh.run("cat /data/file")[1] == "kept\n"
            ssh.run("umount /data")
        else:  # a sandbox without CAP_SYS_RESOURCE: said so, and the offline way works
            code, _, err = ssh.run("resize2fs /dev/xvdf", check=False)
            assert code != 0 and "CAP_SYS_RESOURCE" in err and "unmount it" in err
            ssh.run("umount /data")
        # Not mounted: resize2fs is the real one (and grows it, or says nothing is left to do).
        code, out, err = ssh.run("e2fsck -fp /dev/xvdf && resize2fs /dev/xvdf", check=False)
        assert code == 0, err
        ssh.run("mount /dev/xvdf /data")
        size = int(ssh.run("df -B1 --output=size /data | tail -1")[1])
        assert size > 1.8 * 1024**3
        assert ssh.run("cat /data/file; umount /data")[1] == "kept\n"
        ssh.close()
    finally:
        terminate(cloud, [instance])
    cloud.ec2.delete_volume(VolumeId=volume_id)

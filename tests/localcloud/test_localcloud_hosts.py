"""Instances are real hosts: SSH to them, own hostnames, UserData, users, lifecycle."""

from __future__ import annotations

import base64
import time

from localcloud_helpers import (
    IMAGE,
    describe,
    launch,
    reboot_and_wait,
    ssh_to,
    strictness,
    terminate,
    wait_state,
)


def test_three_instances_answer_ssh_with_their_own_hostnames(cloud):
    instances = launch(cloud, 3)
    try:
        names = set()
        for instance in instances:
            ssh = ssh_to(cloud, instance)
            _, out, _ = ssh.run("hostname; ip -4 -o addr show eth0")
            hostname, addr_line = out.splitlines()
            assert hostname == "ip-" + instance["PrivateIpAddress"].replace(".", "-")
            assert f" {instance['PrivateIpAddress']}/" in addr_line
            names.add(hostname)
            ssh.close()
        assert len(names) == 3
    finally:
        terminate(cloud, instances)


def test_key_pair_authorizes_ubuntu_with_passwordless_sudo(cloud):
    [instance] = launch(cloud)
    try:
        ssh = ssh_to(cloud, instance, user="ubuntu")
        _, out, _ = ssh.run("id -un; sudo -n id -u; echo $HOME")
        assert out.split() == ["ubuntu", "0", "/home/ubuntu"]
        ssh.close()
    finally:
        terminate(cloud, [instance])


def test_user_data_runs_once_as_root_with_cloud_init_log(cloud):
    script = "#!/bin/bash\necho ran-as-$(id -un)\necho x >> /root/runs\n"
    [instance] = launch(cloud, UserData=script)
    try:
        ssh = ssh_to(cloud, instance)
        deadline = time.monotonic() + 10
        while ssh.run("test -e /var/lib/cloud/instance/boot-finished", check=False)[0] != 0:
            assert time.monotonic() < deadline, "user data did not finish"
            time.sleep(0.1)
        assert "ran-as-root" in ssh.run("cat /var/log/cloud-init-output.log")[1]
        ssh.close()
        ssh = reboot_and_wait(cloud, instance)
        assert ssh.run("cat /root/runs")[1] == "x\n"  # not again at the next boot
        attribute = cloud.ec2.describe_instance_attribute(
            InstanceId=instance["InstanceId"], Attribute="userData")
        assert base64.b64decode(attribute["UserData"]["Value"]).decode() == script
        ssh.close()
    finally:
        terminate(cloud, [instance])


def test_pending_and_stopping_are_observable_and_waiters_work(cloud):
    # `pending` lasts ≈ 0.5 s here (minutes on EC2): look at once, with no consistency delay.
    with strictness(cloud, consistency_delay=0):
        response = cloud.ec2.run_instances(ImageId=IMAGE, MinCount=1, MaxCount=1,
                                           KeyName=cloud.key_name, SubnetId=cloud.subnet_id)
        [seen] = describe(cloud, [response["Instances"][0]["InstanceId"]])
    instance_id = response["Instances"][0]["InstanceId"]
    try:
        assert seen["State"]["Name"] == "pending"
        cloud.ec2.get_waiter("instance_running").wait(
            InstanceIds=[instance_id], WaiterConfig={"Delay": 0.2, "MaxAttempts": 100})
        stopping = cloud.ec2.stop_instances(InstanceIds=[instance_id])["StoppingInstances"][0]
        assert stopping["CurrentState"]["Name"] == "stopping"
        assert describe(cloud, [instance_id])[0]["State"]["Name"] == "stopping"
        cloud.ec2.get_waiter("instance_stopped").wait(
            InstanceIds=[instance_id], WaiterConfig={"Delay": 0.2, "MaxAttempts": 100})
    finally:
        cloud.ec2.terminate_instances(InstanceIds=[instance_id])
        [seen] = describe(cloud, [instance_id])
        assert seen["State"]["Name"] == "shutting-down"
        wait_state(cloud, [instance_id], "terminated")


def test_stop_start_keeps_root_layer_and_private_address_and_reboot_restarts(cloud):
    [instance] = launch(cloud)
    instance_id = instance["InstanceId"]
    try:
        ssh = ssh_to(cloud, instance)
        ssh.run("echo kept > /root/kept.txt; useradd -u 2345 carol; "
                "setsid sleep 1234 </dev/null >/dev/null 2>&1 &")
        assert ssh.run("pgrep -f 'sleep 1234'", check=False)[0] == 0
        ssh.close()
        ssh = reboot_and_wait(cloud, instance)
        assert ssh.run("pgrep -f 'sleep 1234'", check=False)[0] == 1, "reboot kept a process"
        assert ssh.run("cat /root/kept.txt")[1] == "kept\n"
        ssh.close()
        cloud.ec2.stop_instances(InstanceIds=[instance_id])
        [stopped] = wait_state(cloud, [instance_id], "stopped")
        assert "PublicIpAddress" not in stopped
        cloud.ec2.start_instances(InstanceIds=[instance_id])
        [started] = wait_state(cloud, [instance_id], "running")
        assert started["PrivateIpAddress"] == instance["PrivateIpAddress"]
        assert started["PublicIpAddress"] != instance["PublicIpAddress"]
        ssh = ssh_to(cloud, started)
        assert ssh.run("cat /root/kept.txt; id -u carol")[1].split() == ["kept", "2345"]
        ssh.close()
    finally:
        terminate(cloud, [instance])


def test_host_files_never_reach_the_real_machine(cloud):
    [instance] = launch(cloud)
    try:
        ssh = ssh_to(cloud, instance)
        ssh.run("echo host-only > /etc/sclust-test-marker; useradd zed")
        ssh.close()
        from pathlib import Path
        assert not Path("/etc/sclust-test-marker").exists()
        assert "zed:" not in Path("/etc/passwd").read_text()
    finally:
        terminate(cloud, [instance])


def test_spot_request_is_fulfilled_by_a_real_host(cloud):
    request = cloud.ec2.request_spot_instances(
        SpotPrice="0.05", InstanceCount=1,
        LaunchSpecification={"ImageId": IMAGE, "InstanceType": "t3.micro",
                             "KeyName": cloud.key_name, "SubnetId": cloud.subnet_id},
    )["SpotInstanceRequests"][0]
    described = cloud.ec2.describe_spot_instance_requests(
        SpotInstanceRequestIds=[request["SpotInstanceRequestId"]])["SpotInstanceRequests"][0]
    [instance] = wait_state(cloud, [described["InstanceId"]], "running")
    try:
        assert instance.get("InstanceLifecycle") == "spot"
        ssh = ssh_to(cloud, instance)
        assert ssh.run("hostname")[1].startswith("ip-172-31-")
        ssh.close()
    finally:
        cloud.ec2.cancel_spot_instance_requests(
            SpotInstanceRequestIds=[request["SpotInstanceRequestId"]])
        terminate(cloud, [instance])

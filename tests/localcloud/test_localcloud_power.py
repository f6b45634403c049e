"""Inside a local-cloud host, `poweroff`/`shutdown`/`reboot` do what they do on EC2: an
instance-initiated shutdown stops the instance (or terminates it, if it says so), a reboot
restarts it; /etc/rc.local runs at every boot."""

from __future__ import annotations

import time

from localcloud_helpers import describe, launch, ssh_to, terminate, wait_state


def test_poweroff_inside_a_host_stops_the_instance_and_start_brings_it_back(cloud) -> None:
    [instance] = launch(cloud)
    ssh = ssh_to(cloud, instance)
    ssh.run("echo kept > /root/survivor")
    ssh.run("(sleep 0.3; poweroff) >/dev/null 2>&1 &")
    ssh.close()
    try:
        [stopped] = wait_state(cloud, [instance["InstanceId"]], "stopped", timeout=20)
        assert stopped["StateReason"]["Code"] == "Client.InstanceInitiatedShutdown"
        cloud.ec2.start_instances(InstanceIds=[instance["InstanceId"]])
        [running] = wait_state(cloud, [instance["InstanceId"]], "running")
        ssh = ssh_to(cloud, running)
        assert ssh.run("cat /root/survivor")[1] == "kept\n"
        ssh.close()
    finally:
        terminate(cloud, [instance])


def test_shutdown_now_with_terminate_behavior_terminates(cloud) -> None:
    [instance] = launch(cloud, InstanceInitiatedShutdownBehavior="terminate")
    ssh = ssh_to(cloud, instance)
    ssh.run("(sleep 0.3; shutdown -h now) >/dev/null 2>&1 &")
    ssh.close()
    wait_state(cloud, [instance["InstanceId"]], "terminated", timeout=20)


def test_reboot_inside_restarts_the_host_and_runs_rc_local(cloud) -> None:
    [instance] = launch(cloud)
    try:
        ssh = ssh_to(cloud, instance)
        ssh.run("printf '#!/bin/sh\\ntouch /run/rc-local-ran\\nexit 0\\n' > /etc/rc.local; "
                "chmod +x /etc/rc.local; touch /run/before-reboot")
        ssh.run("(sleep 0.3; reboot) >/dev/null 2>&1 &")
        ssh.close()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:  # the old host may still answer, or die under this very connection
                ssh = ssh_to(cloud, instance)
                if ssh.run("test -e /run/before-reboot", check=False)[0] != 0:
                    break
                ssh.close()
            except Exception:
                pass
            time.sleep(0.2)
        else:
            raise AssertionError("the host did not reboot")
        assert describe(cloud, [instance["InstanceId"]])[0]["State"]["Name"] == "running"
        for _ in range(50):  # rc.local runs in the background at the end of boot
            if ssh.run("test -e /run/rc-local-ran", check=False)[0] == 0:
                break
            time.sleep(0.1)
        else:
            raise AssertionError("rc.local did not run at boot")
        ssh.close()
    finally:
        terminate(cloud, [instance])

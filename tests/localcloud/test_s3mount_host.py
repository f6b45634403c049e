"""The s3mount plugin's script on one local-cloud host, as the plugin sends it (steps and
inputs on stdin): the bucket mounts with the role's credentials from IMDSv2, a file put from
this machine reads back, a write is refused; on failure, the host's s3fs log and mounts are in
the assertion message."""

from __future__ import annotations

import shlex
import time

from iam_helpers import delete_instance_role, make_instance_role, policy
from localcloud_helpers import launch, ssh_to, terminate

from sclust.plugins.s3mount import MOUNT
from sclust.scripts import REMOTE_COMMAND, ScriptRun

READER = policy(
    {"Effect": "Allow", "Action": ["s3:ListBucket", "s3:GetBucketLocation"],
     "Resource": "arn:aws:s3:::host-data"},
    {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::host-data/*"})


def send(ssh, run: ScriptRun) -> tuple[int, str, str]:
    stdin, stdout, stderr = ssh.client.exec_command(f"bash -c {shlex.quote(REMOTE_COMMAND)}",
                                                    timeout=120)
    stdin.write(run.archive())
    stdin.channel.shutdown_write()
    out, err = stdout.read().decode(), stderr.read().decode()
    return stdout.channel.recv_exit_status(), out, err


def test_the_mount_script_on_a_host_with_a_role(cloud) -> None:
    s3 = cloud.client("s3")
    s3.create_bucket(Bucket="host-data")
    s3.put_object(Bucket="host-data", Key="before.txt", Body=b"before\n")
    # HEAD says the object's size (the endpoint once answered 0: s3fs read empty files).
    assert s3.head_object(Bucket="host-data", Key="before.txt")["ContentLength"] == 7
    make_instance_role(cloud, "host-reader", READER)
    instances = launch(cloud, IamInstanceProfile={"Name": "host-reader"})
    try:
        ssh = ssh_to(cloud, instances[0])
        deadline = time.monotonic() + 30
        while ssh.run("test -e /etc/environment", check=False)[0] and time.monotonic() < deadline:
            time.sleep(0.5)
        status, out, err = send(ssh, ScriptRun().add(MOUNT, bucket="host-data",
                                                     mount_path="/data"))
        diagnostics = ssh.run("ls -la /dev/fuse /data; grep s3fs /proc/mounts; "
                              "cat /etc/environment; tail -40 /var/log/sclust-s3mount.log",
                              check=False)
        assert status == 0 and "mounted: /data" in out, (out, err, diagnostics)
        s3.put_object(Bucket="host-data", Key="dir/after.txt", Body=b"after\n")
        code, read, problem = ssh.run("cat /data/before.txt /data/dir/after.txt", check=False)
        if code != 0:  # the s3fs log at debug level, for the reason
            ssh.run("umount /data; s3fs host-data /data -o iam_role=auto,ro,"
                    "url=$(sed -n 's/^AWS_ENDPOINT_URL=//p' /etc/environment),"
                    "use_path_request_style,endpoint=us-east-1,dbglevel=info,curldbg,"
                    "logfile=/var/log/s3fs-debug.log; sleep 1; cat /data/before.txt; ls -la /data",
                    check=False)
            debug = ssh.run("tail -c 6000 /var/log/s3fs-debug.log", check=False)[1]
            daemon = (cloud.state_dir / "daemon.log").read_text()[-4000:]
            raise AssertionError(f"read failed: {problem}\n{diagnostics}\n--- s3fs:\n{debug}\n"
                                 f"--- daemon:\n{daemon}")
        assert read == "before\nafter\n"
        code, _, refused = ssh.run("touch /data/mine", check=False)
        assert code != 0 and "Read-only file system" in refused
        ssh.run("umount /data")
        ssh.close()
    finally:
        terminate(cloud, instances)
        delete_instance_role(cloud, "host-reader")
        for item in s3.list_objects_v2(Bucket="host-data").get("Contents", []):
            s3.delete_object(Bucket="host-data", Key=item["Key"])
        s3.delete_bucket(Bucket="host-data")

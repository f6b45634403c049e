"""Shared data through roles on the local cloud: a course whose IAM_PROFILE does not exist gets
one made by sclust (its role may read bucket `course-data` and write `course-scratch`, nothing
else); the s3mount plugin mounts both on every desktop with s3fs and the instance's role
credentials from IMDSv2 — no key in the config or on the desktops. A file put into the bucket
from this machine is readable on every desktop, a write to the read-only mount is refused, a
write to the read-write one lands in its bucket; terminate removes the profile and role."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from desktops_helpers import course_config

from tests.conftest import run_sclust

PROFILE = "sclust-e2e-data"


@pytest.fixture
def course(cloud, tmp_path: Path):
    s3 = cloud.client("s3")
    for bucket in ("course-data", "course-scratch", "course-secret"):
        s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket="course-data", Key="readme.txt", Body=b"welcome to the course\n")
    config = course_config(cloud, tmp_path, "data", 2, f"""\
        IAM_PROFILE = {PROFILE}
        PLUGINS = shared, scratch

        [plugin shared]
        SETUP_CLASS = s3mount.S3Mount
        BUCKET = course-data
        MOUNT_PATH = /data

        [plugin scratch]
        SETUP_CLASS = s3mount.S3Mount
        BUCKET = course-scratch
        MOUNT_PATH = /scratch
        READ_ONLY = False
        """)
    ctx = {"config": config, "env": {"SCLUST_LOCAL_DIR": str(cloud.state_dir)}, "cloud": cloud}
    yield ctx
    run_sclust("-c", str(config), "desktops", "terminate", "data", "--yes", env=ctx["env"],
               timeout=300)
    for bucket in ("course-data", "course-scratch", "course-secret"):
        for item in s3.list_objects_v2(Bucket=bucket).get("Contents", []):
            s3.delete_object(Bucket=bucket, Key=item["Key"])
        s3.delete_bucket(Bucket=bucket)


def sclust(ctx: dict, *args: str, ok: bool = True):
    result = run_sclust("-c", str(ctx["config"]), *args, env=ctx["env"], timeout=300)
    if ok:
        assert result.returncode == 0, f"sclust {' '.join(args)}:\n{result.stderr}"
    return result


def test_a_bucket_mounted_on_every_desktop_through_the_instances_role(course) -> None:
    cloud = course["cloud"]
    assert "AWS_" not in course["config"].read_text()  # no keys in the config
    started = sclust(course, "desktops", "start", "data")
    assert f"created instance profile and role {PROFILE} for desktops data" in started.stderr
    for number in ("01", "02"):
        assert (f"plugin shared: desktop {number}: s3://course-data/ mounted read-only at "
                f"/data on 1 node(s)") in started.stdout
        assert (f"plugin scratch: desktop {number}: s3://course-scratch/ mounted read-write at "
                f"/scratch on 1 node(s)") in started.stdout
    iam = cloud.client("iam")
    profile = iam.get_instance_profile(InstanceProfileName=PROFILE)["InstanceProfile"]
    assert [r["RoleName"] for r in profile["Roles"]] == [PROFILE]
    desktops = json.loads(sclust(course, "desktops", "list", "data", "--json").stdout)
    described = cloud.ec2.describe_instances(
        InstanceIds=[d["instance_id"] for d in desktops])["Reservations"]
    assert {i["IamInstanceProfile"]["Arn"] for r in described for i in r["Instances"]} == {
        profile["Arn"]}

    # Put from this machine (after the mounts): readable on every desktop.
    cloud.client("s3").put_object(Bucket="course-data", Key="week1/notes.txt",
                                  Body=b"lecture notes\n")
    read = sclust(course, "desktops", "run", "data",
                  "grep -qx 'welcome to the course' /data/readme.txt && "
                  "grep -qx 'lecture notes' /data/week1/notes.txt")
    assert "2/2 succeeded" in read.stdout

    # Read-only: refused by the mount (even to root); the bucket is unchanged.
    refused = sclust(course, "desktops", "run", "data", "--sudo",
                     "echo x > /data/written.txt", ok=False)
    assert refused.returncode == 1 and "0/2 succeeded" in refused.stdout
    assert "Read-only file system" in refused.stdout
    keys = [o["Key"] for o in cloud.client("s3").list_objects_v2(
        Bucket="course-data")["Contents"]]
    assert sorted(keys) == ["readme.txt", "week1/notes.txt"]

    # Read-write: a desktop's file lands in the bucket, the other desktop reads it.
    sclust(course, "desktops", "run", "data", "-n", "1", "echo from 01 > /scratch/01.txt")
    body = cloud.client("s3").get_object(Bucket="course-scratch", Key="01.txt")["Body"].read()
    assert body == b"from 01\n"
    other = sclust(course, "desktops", "run", "data", "-n", "2", "cat /scratch/01.txt")
    assert "from 01" in other.stdout

    # Overnight: stopped and started (no setup runs again), the mounts come back at boot.
    sclust(course, "desktops", "stop", "data", "--yes")
    sclust(course, "desktops", "start", "data")
    again = sclust(course, "desktops", "run", "data",
                   "grep -qx 'lecture notes' /data/week1/notes.txt && "
                   "grep -qx 'from 01' /scratch/01.txt")
    assert "2/2 succeeded" in again.stdout

    # No key on the desktops: the mounts sign with the role (iam_role=auto), fstab says so.
    kept = sclust(course, "desktops", "run", "data", "--sudo",
                  "grep -c 'iam_role=auto' /etc/fstab; ! grep -rlsE 'AKIA|ASIA' /etc/fstab "
                  "/etc/passwd-s3fs /root/.passwd-s3fs /root/.aws")
    assert "2/2 succeeded" in kept.stdout

    sclust(course, "desktops", "terminate", "data", "--yes")
    with pytest.raises(iam.exceptions.NoSuchEntityException):
        iam.get_instance_profile(InstanceProfileName=PROFILE)
    with pytest.raises(iam.exceptions.NoSuchEntityException):
        iam.get_role(RoleName=PROFILE)


def test_a_bucket_on_every_node_of_a_cluster_with_an_existing_profile(cloud, tmp_path) -> None:
    """The profile exists (made by the account's admin): used as it is, kept at terminate."""
    from iam_helpers import delete_instance_role, make_instance_role, policy
    from localcloud_helpers import cluster_config

    s3 = cloud.client("s3")
    s3.create_bucket(Bucket="lab-data")
    s3.put_object(Bucket="lab-data", Key="genome.txt", Body=b"ACGT\n")
    make_instance_role(cloud, "lab-reader", policy(
        {"Effect": "Allow", "Action": ["s3:ListBucket", "s3:GetBucketLocation"],
         "Resource": "arn:aws:s3:::lab-data"},
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::lab-data/*"}))
    config = cluster_config(cloud, tmp_path, "lab", """\
        LOGIN_USER = root
        DISABLE_QUEUE = True
        IAM_PROFILE = lab-reader
        PLUGINS = data
        """, """\
        [plugin data]
        SETUP_CLASS = s3mount.S3Mount
        BUCKET = lab-data
        MOUNT_PATH = /data
        """, size=2)
    ctx = {"config": config, "env": {"SCLUST_LOCAL_DIR": str(cloud.state_dir)}}
    try:
        started = sclust(ctx, "start", "lab")
        assert "instance profile lab-reader exists: the instances use it as it is" in \
            started.stderr
        assert "s3://lab-data/ mounted read-only at /data on 2 node(s)" in started.stdout
        s3.put_object(Bucket="lab-data", Key="later.txt", Body=b"after the mount\n")
        for node in ("master", "node001"):
            sclust(ctx, "sshnode", "lab", node,
                   "grep -qx ACGT /data/genome.txt && grep -qx 'after the mount' /data/later.txt")
            refused = sclust(ctx, "sshnode", "lab", node, "touch /data/mine", ok=False)
            assert refused.returncode != 0
            sclust(ctx, "sshnode", "lab", node, "grep -q ' /data fuse.s3fs ro,' /proc/mounts")
        assert [o["Key"] for o in s3.list_objects_v2(Bucket="lab-data")["Contents"]] == [
            "genome.txt", "later.txt"]
        sclust(ctx, "terminate", "lab", "--yes")
        assert cloud.client("iam").get_instance_profile(InstanceProfileName="lab-reader")
    finally:
        run_sclust("-c", str(config), "terminate", "lab", "--yes", env=ctx["env"], timeout=300)
        delete_instance_role(cloud, "lab-reader")
        for key in ("genome.txt", "later.txt"):
            s3.delete_object(Bucket="lab-data", Key=key)
        s3.delete_bucket(Bucket="lab-data")

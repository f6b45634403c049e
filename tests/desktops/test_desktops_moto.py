"""`sclust desktops …` against moto's EC2 (EC2 semantics only: `--no-setup`, nothing SSHes to
moto's invented addresses): a course's whole life, the quota check, idempotent start, the
security group, where passwords go, and how many EC2 calls a desktop costs."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import boto3
import pytest
import requests

from tests.conftest import run_sclust, write_key

CONFIG = """\
[key k]
KEY_LOCATION = {key}

[desktops course]
KEYNAME = k
IMAGE_ID = ami-12345678
INSTANCE_TYPE = g4dn.xlarge
STUDENTS = students.csv
COUNT = {count}
AUTO_STOP = 18:00
TIMEZONE = Europe/Madrid
SSH_CIDR = 203.0.113.0/24
NOVNC_PORT = 8443
TAGS = project=em-course
"""


@pytest.fixture
def endpoint(moto_server: str, monkeypatch: pytest.MonkeyPatch) -> str:
    requests.post(f"{moto_server}/moto-api/reset", timeout=10)
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server)
    return moto_server


def ec2(endpoint: str):
    return boto3.client("ec2", endpoint_url=endpoint, region_name="us-east-1")


def course_config(tmp_path: Path, count: int = 3) -> Path:
    (tmp_path / "students.csv").write_text("name,email\nAna,ana@example.org\nBo,bo@example.org\n")
    path = tmp_path / "config"
    path.write_text(CONFIG.format(key=write_key(tmp_path / "k.pem"), count=count))
    assert run_sclust("-c", str(path), "createkey", "k", "-i",
                      str(tmp_path / "k.pem")).returncode == 0
    return path


def sclust(path: Path, *args: str):
    result = run_sclust("-c", str(path), *args)
    assert result.returncode == 0, result.stderr
    return result


def listed(path: Path) -> list[dict]:
    return json.loads(sclust(path, "desktops", "list", "course", "--json").stdout)


def live_instances(endpoint: str) -> list[dict]:
    reservations = ec2(endpoint).describe_instances(
        Filters=[{"Name": "tag:sclust:desktops", "Values": ["course"]}])["Reservations"]
    return [i for r in reservations for i in r["Instances"] if i["State"]["Name"] != "terminated"]


def test_a_course_from_start_to_terminate(endpoint: str, tmp_path: Path,
                                          sclust_home: Path) -> None:
    path = course_config(tmp_path)
    sclust(path, "desktops", "start", "course", "--no-setup")
    desktops = listed(path)
    assert [d["number"] for d in desktops] == ["01", "02", "03"]
    assert [d["student"] for d in desktops] == ["Ana", "Bo", None]
    assert len({d["address"] for d in desktops}) == 3
    assert all(d["state"] == "running" and d["instance_id"].startswith("i-") for d in desktops)
    assert desktops[0]["url"].startswith("https://") and ":8443/" in desktops[0]["url"]

    # Every desktop is tagged with its number, name and student; its address with the same.
    client = ec2(endpoint)
    tags = {i["InstanceId"]: {t["Key"]: t["Value"] for t in i["Tags"]}
            for i in live_instances(endpoint)}
    first = tags[desktops[0]["instance_id"]]
    assert first["sclust:desktop-number"] == "01" and first["Name"] == "course-01"
    assert first["sclust:student"] == "Ana" and first["project"] == "em-course"
    addresses = client.describe_addresses()["Addresses"]
    assert {a["PublicIp"] for a in addresses} == {d["address"] for d in desktops}
    by_ip = {a["PublicIp"]: {t["Key"]: t["Value"] for t in a["Tags"]} for a in addresses}
    assert by_ip[desktops[1]["address"]]["sclust:desktop-number"] == "02"
    assert all(a["InstanceId"] for a in addresses)

    # Instance-initiated shutdown (AUTO_STOP) must stop, not terminate.
    behaviour = client.describe_instance_attribute(
        InstanceId=desktops[0]["instance_id"], Attribute="instanceInitiatedShutdownBehavior")
    assert behaviour["InstanceInitiatedShutdownBehavior"]["Value"] == "stop"

    # Passwords: in a 0600 file under SCLUST_HOME, never in any tag.
    secrets_file = sclust_home / "desktops" / "us-east-1" / "course.json"
    assert stat.S_IMODE(secrets_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(secrets_file.parent.stat().st_mode) == 0o700
    passwords = {k: v["credentials"]["novnc"] for k, v in json.loads(secrets_file.read_text())[
        "desktops"].items()}
    assert len(set(passwords.values())) == 3 and all(len(p) == 8 for p in passwords.values())
    every_tag = json.dumps([tags, by_ip, client.describe_security_groups()["SecurityGroups"]])
    assert not any(p in every_tag for p in passwords.values())

    # Re-running start changes nothing: no new instance, no new address.
    sclust(path, "desktops", "start", "course", "--no-setup")
    assert len(live_instances(endpoint)) == 3
    assert len(client.describe_addresses()["Addresses"]) == 3

    # Overnight: stopped, then the same addresses in the morning.
    sclust(path, "desktops", "stop", "course", "--yes")
    assert {d["state"] for d in listed(path)} == {"stopped"}
    sclust(path, "desktops", "start", "course", "--no-setup")
    morning = listed(path)
    assert {d["state"] for d in morning} == {"running"}
    assert [d["address"] for d in morning] == [d["address"] for d in desktops]

    # Stop just one.
    sclust(path, "desktops", "stop", "course", "2", "--yes")
    assert [d["state"] for d in listed(path)] == ["running", "stopped", "running"]

    # Rosters: the page has links and no passwords; the sheet has them, mode 0600.
    page, sheet = tmp_path / "roster.html", tmp_path / "sheet.csv"
    sclust(path, "desktops", "roster", "course", "--html", str(page), "--csv", str(sheet))
    html = page.read_text()
    assert all(d["url"] in html for d in desktops) and "Ana" in html
    assert not any(p in html for p in passwords.values())
    assert stat.S_IMODE(sheet.stat().st_mode) == 0o600
    rows = sheet.read_text().splitlines()
    assert rows[0] == "number,student,email,address,url,password"
    assert rows[1].startswith("01,Ana,ana@example.org,") and rows[1].endswith(passwords["01"])

    sclust(path, "desktops", "add", "course", "-n", "2", "--no-setup")
    assert [d["number"] for d in listed(path)] == ["01", "02", "03", "04", "05"]
    assert len(client.describe_addresses()["Addresses"]) == 5

    result = run_sclust("-c", str(path), "desktops", "terminate", "course")
    assert result.returncode == 1 and "pass --yes" in result.stderr
    sclust(path, "desktops", "terminate", "course", "--yes")
    assert client.describe_addresses()["Addresses"] == []
    assert live_instances(endpoint) == []
    assert not secrets_file.exists()
    groups = client.describe_security_groups(
        Filters=[{"Name": "tag:sclust:desktops", "Values": ["course"]}])["SecurityGroups"]
    assert groups == []


def test_security_group_opens_only_novnc_and_ssh_from_its_cidr(endpoint: str,
                                                              tmp_path: Path) -> None:
    path = course_config(tmp_path, count=2)
    sclust(path, "desktops", "start", "course", "--no-setup")
    group = ec2(endpoint).describe_security_groups(
        Filters=[{"Name": "tag:sclust:desktops", "Values": ["course"]}])["SecurityGroups"][0]
    rules = {(p["IpProtocol"], p.get("FromPort"), p.get("ToPort"),
              tuple(r["CidrIp"] for r in p.get("IpRanges", [])),
              len(p.get("UserIdGroupPairs", []))) for p in group["IpPermissions"]}
    assert rules == {("tcp", 8443, 8443, ("0.0.0.0/0",), 0),
                     ("tcp", 22, 22, ("203.0.113.0/24",), 0)}


def test_a_rerun_restores_the_rules_a_course_group_lacks(endpoint: str, tmp_path: Path) -> None:
    path = course_config(tmp_path, count=2)
    sclust(path, "desktops", "start", "course", "--no-setup")
    client = ec2(endpoint)
    group = client.describe_security_groups(
        Filters=[{"Name": "tag:sclust:desktops", "Values": ["course"]}])["SecurityGroups"][0]
    # As a start interrupted between creating the group and opening its ports leaves it.
    client.revoke_security_group_ingress(GroupId=group["GroupId"],
                                         IpPermissions=group["IpPermissions"])
    result = sclust(path, "desktops", "start", "course", "--no-setup")
    assert "lacked 2 rule(s)" in result.stderr
    rules = client.describe_security_groups(GroupIds=[group["GroupId"]])["SecurityGroups"][0][
        "IpPermissions"]
    assert {(p["FromPort"], p["IpRanges"][0]["CidrIp"]) for p in rules} == {
        (8443, "0.0.0.0/0"), (22, "203.0.113.0/24")}


def test_quota_refuses_a_sixth_address_before_launching_anything(endpoint: str,
                                                                 tmp_path: Path) -> None:
    path = course_config(tmp_path, count=6)
    result = run_sclust("-c", str(path), "desktops", "start", "course", "--no-setup")
    assert result.returncode == 1
    assert "need 6 more Elastic IP(s) but only 5 of the 5 allowed in us-east-1" in result.stderr
    assert "Service Quotas" in result.stderr and "EC2-VPC Elastic IPs" in result.stderr
    assert "L-0263D0A3" in result.stderr
    assert live_instances(endpoint) == []
    assert ec2(endpoint).describe_addresses()["Addresses"] == []

    # Addresses allocated by anything else count too.
    path.write_text(path.read_text().replace("COUNT = 6", "COUNT = 4"))
    ec2(endpoint).allocate_address(Domain="vpc")
    ec2(endpoint).allocate_address(Domain="vpc")
    result = run_sclust("-c", str(path), "desktops", "start", "course", "--no-setup")
    assert result.returncode == 1 and "only 3 of the 5" in result.stderr
    assert "at least 6" in result.stderr


def test_a_key_pair_missing_from_ec2_is_refused_before_anything_is_made(
    endpoint: str, tmp_path: Path
) -> None:
    path = course_config(tmp_path, count=2)
    ec2(endpoint).delete_key_pair(KeyName="k")
    result = run_sclust("-c", str(path), "desktops", "start", "course", "--no-setup")
    assert result.returncode == 1, result.stderr
    assert "key pair 'k' does not exist in EC2 region us-east-1" in result.stderr
    assert "sclust createkey k -i" in result.stderr
    assert live_instances(endpoint) == []
    assert ec2(endpoint).describe_addresses()["Addresses"] == []
    assert ec2(endpoint).describe_security_groups(
        Filters=[{"Name": "tag:sclust:desktops", "Values": ["course"]}])["SecurityGroups"] == []

    # A key pair whose private key is not KEY_LOCATION's is refused the same way.
    write_key(tmp_path / "other.pem")
    assert run_sclust("-c", str(path), "createkey", "k", "-i",
                      str(tmp_path / "other.pem")).returncode == 0
    result = run_sclust("-c", str(path), "desktops", "start", "course", "--no-setup")
    assert result.returncode == 1 and "is not the private key of EC2 key pair 'k'" in result.stderr
    assert live_instances(endpoint) == []


def test_ec2_calls_per_desktop_do_not_depend_on_the_course_size(endpoint: str, tmp_path: Path,
                                                                monkeypatch) -> None:
    """One RunInstances for all; per desktop only what EC2 cannot batch: AllocateAddress (one
    address per call), AssociateAddress and CreateTags with the desktop's own values."""
    from sclust.config import AwsSettings, load_config
    from sclust.desktops.course import Desktops
    from sclust.desktops.template import desktops_template
    from sclust.ec2 import EC2
    from sclust.progress import Progress

    path = course_config(tmp_path, count=5)
    config = load_config(path)

    def calls_for(count: int, name: str) -> dict[str, int]:
        cloud = EC2(AwsSettings(endpoint_url=endpoint))
        made: dict[str, int] = {}

        def count_call(model, **_) -> None:
            made[model.name] = made.get(model.name, 0) + 1

        cloud.client.meta.events.register("before-call.ec2", count_call)
        template = desktops_template(config, "course")
        template.count = count
        Desktops(cloud, Progress(quiet=True), lambda _: tmp_path / "k.pem").start(
            name, template, setup=False)
        return made

    # Both courses fit the default quota of 5 addresses together.
    two, three = calls_for(2, "small"), calls_for(3, "big")
    per_desktop = {op: three.get(op, 0) - two.get(op, 0) for op in set(two) | set(three)}
    assert per_desktop == {op: (1 if op in ("AllocateAddress", "AssociateAddress",
                                            "CreateTags") else 0) for op in per_desktop}
    assert two["RunInstances"] == three["RunInstances"] == 1
    assert sum(two.values()) - 3 * 2 <= 10, two


def test_terminate_leaves_alone_what_is_tagged_for_the_course_but_not_its_own(
        endpoint: str, tmp_path: Path) -> None:
    path = course_config(tmp_path, count=2)
    sclust(path, "desktops", "start", "course", "--no-setup")
    client = ec2(endpoint)
    tag = [{"Key": "sclust:desktops", "Value": "course"}]
    stranger = client.run_instances(ImageId="ami-12345678", MinCount=1, MaxCount=1,
                                    InstanceType="t3.micro")["Instances"][0]["InstanceId"]
    client.create_tags(Resources=[stranger], Tags=tag)
    foreign = client.allocate_address(Domain="vpc")
    client.create_tags(Resources=[foreign["AllocationId"]], Tags=tag)
    client.associate_address(AllocationId=foreign["AllocationId"], InstanceId=stranger)

    sclust(path, "desktops", "terminate", "course", "--yes")
    left = {a["AllocationId"] for a in client.describe_addresses()["Addresses"]}
    assert left == {foreign["AllocationId"]}
    state = client.describe_instances(InstanceIds=[stranger])["Reservations"][0]["Instances"][0]
    assert state["State"]["Name"] == "running"


def test_a_course_with_iam_profile_launches_with_the_role_made_for_its_buckets(
        endpoint: str, tmp_path: Path) -> None:
    path = course_config(tmp_path, count=2)
    path.write_text(path.read_text() + "IAM_PROFILE = course-data\nPLUGINS = shared\n\n"
                    "[plugin shared]\nSETUP_CLASS = s3mount.S3Mount\nBUCKET = course-data\n")
    started = sclust(path, "desktops", "start", "course", "--no-setup")
    assert "created instance profile and role course-data for desktops course" in started.stderr
    iam = boto3.client("iam", endpoint_url=endpoint, region_name="us-east-1")
    profile = iam.get_instance_profile(InstanceProfileName="course-data")["InstanceProfile"]
    # moto shows the profile on the first instance of a launch only (EC2 and the local cloud:
    # on each; tests/localcloud/test_s3mount_e2e.py checks that).
    shown = {(i.get("IamInstanceProfile") or {}).get("Arn") for i in live_instances(endpoint)}
    assert shown - {None} == {profile["Arn"]}
    document = json.dumps(iam.get_role_policy(RoleName="course-data",
                                              PolicyName="sclust-data")["PolicyDocument"])
    assert "arn:aws:s3:::course-data/*" in document and "s3:PutObject" not in document
    sclust(path, "desktops", "terminate", "course", "--yes")
    assert iam.list_instance_profiles()["InstanceProfiles"] == []
    assert [r["RoleName"] for r in iam.list_roles()["Roles"]] == []

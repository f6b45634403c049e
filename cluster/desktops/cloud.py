"""The EC2 calls of desktops, on the client of `ec2.Cloud` (which stays the one boto3 user).

Batched where the API allows: one RunInstances for every new desktop, one StopInstances,
one DescribeInstances per look. The API has no batch form for what differs per desktop:
AllocateAddress (one address per call), AssociateAddress, and CreateTags with per-desktop
values (number, Name, student), so those are one call per desktop.
"""

from __future__ import annotations

from typing import Any

from sclust.config import Permission
from sclust.desktops.state import (
    TAG_COURSE,
    TAG_NUMBER,
    TAG_NUMBERS,
    TAG_RUN,
    TAG_SETUP,
    TAG_STUDENT,
    Address,
    Course,
    CourseSettings,
    Desktop,
    address_from,
    desktop_from,
    label,
)
from sclust.ec2 import LIVE_STATES, Cloud, ec2_errors, tag_list, tags_of
from sclust.errors import CloudError

# Tag values hold 256 characters: "01,02,…" lists at most 80 numbers per launch.
NUMBERS_PER_LAUNCH = 80
EIP_QUOTA_NAME = "EC2-VPC Elastic IPs"
EIP_QUOTA_CODE = "L-0263D0A3"


class DesktopsCloud:
    """A region of EC2 as desktops use it."""

    def __init__(self, cloud: Cloud) -> None:
        self.cloud = cloud
        self.client = cloud.client
        self.region = cloud.region

    # ---- looking ---------------------------------------------------------------------------

    def find(self, course: str) -> Course:
        """The course's group, desktops and addresses (three calls whatever its size).

        Every address of the region is described (not only the course's): the quota check
        needs their count.
        """
        tag = [{"Name": f"tag:{TAG_COURSE}", "Values": [course]}]
        with ec2_errors(f"looking up desktops {course!r}"):
            groups = self.client.describe_security_groups(Filters=tag)["SecurityGroups"]
            reservations = self.cloud._paginate(
                "describe_instances", "Reservations",
                Filters=tag + [{"Name": "instance-state-name", "Values": LIVE_STATES}])
            addresses = self.client.describe_addresses()["Addresses"]
        found = Course(course, None, None, addresses_in_region=len(addresses))
        if groups:
            found.group_id = groups[0]["GroupId"]
            found.settings = CourseSettings.from_tags(tags_of(groups[0]), course)
        for reservation in reservations:
            for instance in reservation["Instances"]:
                found.desktops.append(desktop_from(instance, tags_of(instance)))
        for address in addresses:
            tags = tags_of(address)
            if tags.get(TAG_COURSE) == course:
                found.addresses.append(address_from(address, tags))
        by_instance = {a.instance_id: a for a in found.addresses if a.instance_id}
        for desktop in found.desktops:
            desktop.elastic_ip = by_instance.get(desktop.instance_id)
        found.desktops.sort(key=lambda d: d.number)
        return found

    def describe(self, instance_ids: list[str]) -> list[Desktop]:
        if not instance_ids:
            return []
        with ec2_errors("describing desktops"):
            reservations = self.cloud._paginate("describe_instances", "Reservations",
                                                InstanceIds=instance_ids)
        return [desktop_from(i, tags_of(i)) for r in reservations for i in r["Instances"]]

    def address_quota(self) -> int:
        """The region's Elastic IP quota (EC2 reports the Service Quotas value here)."""
        with ec2_errors("reading the Elastic IP quota"):
            reply = self.client.describe_account_attributes(
                AttributeNames=["vpc-max-elastic-ips"])
        for attribute in reply.get("AccountAttributes", []):
            if attribute.get("AttributeName") != "vpc-max-elastic-ips":
                continue  # some endpoints (moto) answer every attribute, not the one asked
            values = attribute.get("AttributeValues") or [{}]
            value = values[0].get("AttributeValue", "")
            if value.isdigit():
                return int(value)
        return 5  # EC2's default when the endpoint does not say

    # ---- creating --------------------------------------------------------------------------

    def create_group(self, course: str, settings: CourseSettings, novnc_cidr: str,
                     ssh_cidr: str, permissions: list[Permission],
                     ports: list[tuple[int, str]] | None = None) -> str:
        """The course's security group: the desktop kind's PORTS (port, description) from
        NOVNC_CIDR, SSH, and PERMISSIONS if listed.

        No rule opens the group to itself: one desktop has no business on another's ports.
        """
        name = f"@sclust-desktops-{course}"
        tags = {TAG_COURSE: course, "Name": name, **settings.tags, **settings.to_tags()}
        with ec2_errors(f"creating security group {name}"):
            group_id = self.client.create_security_group(
                GroupName=name, Description=f"sclust desktops {course}", VpcId=settings.vpc_id,
                TagSpecifications=[{"ResourceType": "security-group", "Tags": tag_list(tags)}],
            )["GroupId"]
        ports = ports or [(settings.novnc_port, "noVNC (HTTPS)")]
        rules: list[dict[str, Any]] = [
            {"IpProtocol": "tcp", "FromPort": port, "ToPort": port,
             "IpRanges": [{"CidrIp": novnc_cidr, "Description": description}]}
            for port, description in ports
        ] + [
            {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22,
             "IpRanges": [{"CidrIp": ssh_cidr, "Description": "ssh"}]},
        ]
        for permission in permissions:
            rules.append({
                "IpProtocol": "-1" if permission.protocol == "all" else permission.protocol,
                "FromPort": permission.from_port, "ToPort": permission.to_port,
                "IpRanges": [{"CidrIp": permission.cidr, "Description": permission.name}],
            })
        with ec2_errors(f"opening the ports of {name}"):
            self.client.authorize_security_group_ingress(GroupId=group_id, IpPermissions=rules)
        return group_id

    def launch(self, course: str, numbers: list[int], settings: CourseSettings,
               group_id: str) -> list[str]:
        """One RunInstances per 80 desktops; each instance knows its number from the launch's
        number list and its launch index, before it is named one by one."""
        ids: list[str] = []
        for start in range(0, len(numbers), NUMBERS_PER_LAUNCH):
            chunk = numbers[start : start + NUMBERS_PER_LAUNCH]
            tags = {**settings.tags, TAG_COURSE: course,
                    TAG_NUMBERS: ",".join(label(n) for n in chunk),
                    "Name": f"{course}-{label(chunk[0])}" + (
                        f"…{label(chunk[-1])}" if len(chunk) > 1 else "")}
            kwargs: dict[str, Any] = {
                "ImageId": settings.image_id, "InstanceType": settings.instance_type,
                "MinCount": len(chunk), "MaxCount": len(chunk), "KeyName": settings.keyname,
                "SubnetId": settings.subnet_id, "SecurityGroupIds": [group_id],
                # AUTO_STOP powers the desktop off from inside: that must mean stop.
                "InstanceInitiatedShutdownBehavior": "stop",
                "TagSpecifications": [
                    {"ResourceType": "instance", "Tags": tag_list(tags)},
                    {"ResourceType": "volume",
                     "Tags": tag_list({**settings.tags, TAG_COURSE: course})},
                ],
            }
            if settings.volume_size:
                kwargs["BlockDeviceMappings"] = [{
                    "DeviceName": "/dev/sda1",
                    "Ebs": {"VolumeSize": settings.volume_size, "VolumeType": "gp3",
                            "DeleteOnTermination": True},
                }]
            doing = f"launching {len(chunk)} × {settings.instance_type} desktop(s)"
            with ec2_errors(doing):
                reply = self.client.run_instances(**kwargs)
            by_index = sorted(reply["Instances"], key=lambda i: i.get("AmiLaunchIndex", 0))
            ids += [i["InstanceId"] for i in by_index]
        return ids

    def name_desktop(self, course: str, instance_id: str, number: int,
                     student: str | None) -> None:
        tags = {"Name": f"{course}-{label(number)}", TAG_NUMBER: label(number)}
        if student:
            tags[TAG_STUDENT] = student
        with ec2_errors(f"naming desktop {label(number)}"):
            self.client.create_tags(Resources=[instance_id], Tags=tag_list(tags))

    def allocate_address(self, course: str, number: int, student: str | None,
                         extra: dict[str, str]) -> Address:
        """One Elastic IP, tagged at creation with the course, number and student."""
        tags = {**extra, TAG_COURSE: course, TAG_NUMBER: label(number),
                "Name": f"{course}-{label(number)}"}
        if student:
            tags[TAG_STUDENT] = student
        with ec2_errors(f"allocating an Elastic IP for desktop {label(number)}"):
            reply = self.client.allocate_address(
                Domain="vpc",
                TagSpecifications=[{"ResourceType": "elastic-ip", "Tags": tag_list(tags)}])
        return Address(reply["AllocationId"], reply["PublicIp"], number, None, None)

    def associate(self, address: Address, instance_id: str) -> None:
        with ec2_errors(f"associating {address.public_ip} with {instance_id}"):
            reply = self.client.associate_address(
                AllocationId=address.allocation_id, InstanceId=instance_id,
                AllowReassociation=True)
        address.instance_id, address.association_id = instance_id, reply.get("AssociationId")

    def mark_set_up(self, instance_ids: list[str]) -> None:
        """One CreateTags for every desktop just set up (same value: batchable)."""
        if instance_ids:
            with ec2_errors("recording the desktops' setup"):
                self.client.create_tags(Resources=instance_ids,
                                        Tags=[{"Key": TAG_SETUP, "Value": "1"}])

    def record_run(self, desktop: Desktop) -> None:
        """Add the run that ended at the last stop to the desktop's running time (for cost)."""
        seconds = desktop.run_seconds + desktop.last_run_seconds()
        until = desktop.stopped_at.timestamp() if desktop.stopped_at else desktop.counted_until
        with ec2_errors(f"recording the running time of desktop {desktop.name}"):
            self.client.create_tags(Resources=[desktop.instance_id],
                                    Tags=[{"Key": TAG_RUN, "Value": f"{seconds:.0f} {until:.0f}"}])

    # ---- removing --------------------------------------------------------------------------

    def release(self, address: Address) -> None:
        """Disassociate (if needed) and release one Elastic IP."""
        if address.association_id:
            with ec2_errors(f"disassociating {address.public_ip}"):
                self.client.disassociate_address(AssociationId=address.association_id)
        with ec2_errors(f"releasing {address.public_ip}"):
            self.client.release_address(AllocationId=address.allocation_id)


def quota_message(needed: int, free: int, quota: int, in_use: int, region: str) -> str:
    return (
        f"these desktops need {needed} more Elastic IP(s) but only {free} of the {quota} "
        f"allowed in {region} are free ({in_use} allocated): ask AWS for at least "
        f"{in_use + needed} in the Service Quotas console (Amazon Elastic Compute Cloud "
        f"(Amazon EC2) > '{EIP_QUOTA_NAME}', quota {EIP_QUOTA_CODE}; or `aws service-quotas "
        f"request-service-quota-increase --service-code ec2 --quota-code {EIP_QUOTA_CODE} "
        f"--desired-value {in_use + needed} --region {region}`), release unused addresses, "
        f"or set ELASTIC_IPS = False (addresses then change at every start)"
    )


def check_address_quota(dcloud: DesktopsCloud, course: Course, needed: int) -> None:
    """Refuse, before anything is launched, when the region's quota cannot hold NEEDED more."""
    if needed <= 0:
        return
    quota = dcloud.address_quota()
    free = quota - course.addresses_in_region
    if needed > free:
        raise CloudError(quota_message(needed, max(free, 0), quota, course.addresses_in_region,
                                       dcloud.region))

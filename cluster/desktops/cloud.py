"""The cloud calls of desktops, through the Cloud seam (`sclust.cloud`).

Batched where the API allows: one RunInstances for every new desktop, one StopInstances,
one DescribeInstances per look. The API has no batch form for what differs per desktop:
AllocateAddress (one address per call), AssociateAddress, and CreateTags with per-desktop
values (number, Name, student), so those are one call per desktop.
"""

from __future__ import annotations

import logging

from sclust.cloud import Address as ElasticIp
from sclust.cloud import Cloud, LaunchSpec, Rule
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
from sclust.errors import CloudError

# Tag values hold 256 characters: "01,02,…" lists at most 80 numbers per launch.
NUMBERS_PER_LAUNCH = 80
EIP_QUOTA_NAME = "EC2-VPC Elastic IPs"
EIP_QUOTA_CODE = "L-0263D0A3"

log = logging.getLogger(__name__)


def elastic_ip(address: Address) -> ElasticIp:
    return ElasticIp(address.allocation_id, address.public_ip, address.instance_id,
                     address.association_id)


def group_rules(settings: CourseSettings, novnc_cidr: str, ssh_cidr: str,
                permissions: list[Permission], ports: list[tuple[int, str]] | None
                ) -> list[Rule]:
    """A course group's rules: the kind's PORTS from NOVNC_CIDR, SSH, the [permission]s."""
    ports = ports or [(settings.novnc_port, "noVNC (HTTPS)")]
    rules = [Rule("tcp", port, port, cidr=novnc_cidr, description=description)
             for port, description in ports]
    rules.append(Rule("tcp", 22, 22, cidr=ssh_cidr, description="ssh"))
    rules += [Rule(p.protocol, p.from_port, p.to_port, cidr=p.cidr, description=p.name)
              for p in permissions]
    return rules


class DesktopsCloud:
    """A region of a cloud as desktops use it."""

    def __init__(self, cloud: Cloud) -> None:
        self.cloud = cloud
        self.region = cloud.region

    # ---- looking ---------------------------------------------------------------------------

    def find(self, course: str) -> Course:
        """The course's group, desktops and addresses (three calls whatever its size).

        Every address of the region is described (not only the course's): the quota check
        needs their count.
        """
        groups = self.cloud.find_security_groups(TAG_COURSE, course)
        instances = self.cloud.find_instances(TAG_COURSE, course)
        addresses = self.cloud.describe_addresses()
        found = Course(course, None, None, addresses_in_region=len(addresses))
        if groups:
            found.group_id = groups[0].group_id
            found.settings = CourseSettings.from_tags(groups[0].tags, course)
        # Tags are untrusted: a desktop is an instance sclust launched into the course's group,
        # and an address is the course's only while free or on one of its desktops. Others
        # tagged for the course are left alone, never terminated or released.
        ours = [i for i in instances
                if found.group_id is None or found.group_id in i.security_groups]
        strangers = [i.instance_id for i in instances if i not in ours]
        found.desktops = [desktop_from(i) for i in ours]
        desktop_ids = {d.instance_id for d in found.desktops}
        tagged = [address_from(a) for a in addresses if a.tags.get(TAG_COURSE) == course]
        found.addresses = [a for a in tagged
                           if not a.instance_id or a.instance_id in desktop_ids]
        strangers += [a.public_ip for a in tagged if a not in found.addresses]
        if strangers:
            log.warning("course %s: leaving alone what is tagged for it but is not its own: %s",
                        course, ", ".join(strangers))
        by_instance = {a.instance_id: a for a in found.addresses if a.instance_id}
        for desktop in found.desktops:
            desktop.elastic_ip = by_instance.get(desktop.instance_id)
        found.desktops.sort(key=lambda d: d.number)
        return found

    def tagged_addresses(self, course: str) -> list[Address]:
        """Every address tagged for COURSE, as the cloud has it now (no trust implied)."""
        return [address_from(a) for a in self.cloud.describe_addresses()
                if a.tags.get(TAG_COURSE) == course]

    def describe(self, instance_ids: list[str]) -> list[Desktop]:
        return [desktop_from(i) for i in self.cloud.describe_instances(instance_ids)]

    def address_quota(self) -> int:
        """The region's Elastic IP quota."""
        return self.cloud.address_quota()

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
        rules = group_rules(settings, novnc_cidr, ssh_cidr, permissions, ports)
        return self.cloud.create_security_group(name, f"sclust desktops {course}",
                                                settings.vpc_id, tags, rules)

    def repair_group(self, group_id: str, settings: CourseSettings, novnc_cidr: str,
                     ssh_cidr: str, permissions: list[Permission],
                     ports: list[tuple[int, str]] | None = None) -> int:
        """Add the rules the course's group lacks (a start interrupted between creating it
        and opening its ports leaves none); returns how many."""
        return self.cloud.ensure_ingress(
            group_id, group_rules(settings, novnc_cidr, ssh_cidr, permissions, ports))

    def launch(self, course: str, numbers: list[int], settings: CourseSettings,
               group_id: str) -> list[str]:
        """One RunInstances per 80 desktops; each instance knows its number from the launch's
        number list and its launch index, before it is named one by one."""
        assert settings.subnet_id
        ids: list[str] = []
        for start in range(0, len(numbers), NUMBERS_PER_LAUNCH):
            chunk = numbers[start : start + NUMBERS_PER_LAUNCH]
            tags = {**settings.tags, TAG_COURSE: course,
                    TAG_NUMBERS: ",".join(label(n) for n in chunk),
                    "Name": f"{course}-{label(chunk[0])}" + (
                        f"…{label(chunk[-1])}" if len(chunk) > 1 else "")}
            spec = LaunchSpec(
                image_id=settings.image_id, instance_type=settings.instance_type,
                count=len(chunk), keyname=settings.keyname, subnet_id=settings.subnet_id,
                security_group_id=group_id, tags=tags,
                volume_tags={**settings.tags, TAG_COURSE: course},
                root_volume_size=settings.volume_size,
                # AUTO_STOP powers the desktop off from inside: that must mean stop.
                stop_on_shutdown=True,
            )
            ids += [i.instance_id for i in self.cloud.launch(spec)]
        return ids

    def name_desktop(self, course: str, instance_id: str, number: int,
                     student: str | None) -> None:
        tags = {"Name": f"{course}-{label(number)}", TAG_NUMBER: label(number)}
        if student:
            tags[TAG_STUDENT] = student
        self.cloud.create_tags([instance_id], tags)

    def allocate_address(self, course: str, number: int, student: str | None,
                         extra: dict[str, str]) -> Address:
        """One Elastic IP, tagged at creation with the course, number and student."""
        tags = {**extra, TAG_COURSE: course, TAG_NUMBER: label(number),
                "Name": f"{course}-{label(number)}"}
        if student:
            tags[TAG_STUDENT] = student
        allocated = self.cloud.allocate_address(tags)
        return Address(allocated.allocation_id, allocated.public_ip, number, None, None)

    def associate(self, address: Address, instance_id: str) -> None:
        association = elastic_ip(address)
        self.cloud.associate_address(association, instance_id)
        address.instance_id, address.association_id = instance_id, association.association_id

    def save_settings(self, group_id: str, settings: CourseSettings) -> None:
        """Rewrite the settings tags of the course's group (and drop chunks no longer used)."""
        from sclust.state import TAG_SETTINGS

        tags = settings.to_tags()
        self.cloud.create_tags([group_id], tags)
        groups = [g for g in self.cloud.find_security_groups(TAG_COURSE) if g.group_id == group_id]
        stale = [k for g in groups for k in g.tags
                 if k.startswith(f"{TAG_SETTINGS}.") and k not in tags]
        if stale:
            self.cloud.delete_tags([group_id], stale)

    def mark_set_up(self, instance_ids: list[str]) -> None:
        """One CreateTags for every desktop just set up (same value: batchable)."""
        self.cloud.create_tags(instance_ids, {TAG_SETUP: "1"})

    def record_run(self, desktop: Desktop) -> None:
        """Add the run that ended at the last stop to the desktop's running time (for cost)."""
        seconds = desktop.run_seconds + desktop.last_run_seconds()
        until = desktop.stopped_at.timestamp() if desktop.stopped_at else desktop.counted_until
        self.cloud.create_tags([desktop.instance_id], {TAG_RUN: f"{seconds:.0f} {until:.0f}"})

    # ---- removing --------------------------------------------------------------------------

    def release(self, address: Address) -> None:
        """Disassociate (if needed) and release one Elastic IP."""
        self.cloud.release_address(elastic_ip(address))


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

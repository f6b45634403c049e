"""EFS: the only module that calls Amazon Elastic File System (a cluster's EFS = FS:PATH).

For each file system: it must exist and be available; the cluster's subnet zone needs a mount
target whose security groups include the cluster's group (sclust creates one with that group
when the zone has none, or adds its group to the zone's existing one), and the cluster's group
lets its members reach NFS (tcp 2049 from itself). On terminate, mount targets whose only group
is the cluster's (the ones sclust created) are deleted, and the group is taken out of others.
Nodes mount `FS.efs.REGION.amazonaws.com:/` (NFS 4.1, AWS's recommended options).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

import botocore.exceptions

from sclust.aws import aws_client, ec2_errors, error_code, translate
from sclust.config import AwsSettings
from sclust.errors import CloudError

log = logging.getLogger(__name__)


@dataclass
class MountTarget:
    mount_target_id: str
    zone: str
    ip: str
    created: bool  # by this call


class EFS:
    def __init__(self, aws: AwsSettings, region: str) -> None:
        with ec2_errors("connecting to EFS"):
            self.client = aws_client("efs", aws, region)
        self.region = region
        self.sleep = time.sleep

    def file_system(self, fs_id: str) -> dict[str, Any]:
        try:
            systems = self.client.describe_file_systems(FileSystemId=fs_id)["FileSystems"]
        except botocore.exceptions.ClientError as error:
            if error_code(error) == "FileSystemNotFound":
                raise CloudError(f"EFS file system {fs_id} does not exist in {self.region}: "
                                 "check the template's EFS") from None
            raise translate(error, f"looking up EFS file system {fs_id}") from error
        system = dict(systems[0])
        if system.get("LifeCycleState") != "available":
            raise CloudError(f"EFS file system {fs_id} is {system.get('LifeCycleState')}, not "
                             "available")
        return system

    def mount_targets(self, fs_id: str) -> list[dict[str, Any]]:
        with ec2_errors(f"listing the mount targets of {fs_id}"):
            return list(self.client.describe_mount_targets(FileSystemId=fs_id)["MountTargets"])

    def groups_of(self, mount_target_id: str) -> list[str]:
        with ec2_errors(f"reading the security groups of {mount_target_id}"):
            return list(self.client.describe_mount_target_security_groups(
                MountTargetId=mount_target_id)["SecurityGroups"])

    def ensure_mount_target(self, fs_id: str, subnet_id: str, zone: str, group_id: str
                            ) -> MountTarget:
        """A mount target of FS_ID in ZONE that GROUP_ID's members may use."""
        self.file_system(fs_id)
        for target in self.mount_targets(fs_id):
            if target.get("AvailabilityZoneName") != zone:
                continue
            groups = self.groups_of(target["MountTargetId"])
            if group_id not in groups:
                with ec2_errors(f"adding {group_id} to mount target {target['MountTargetId']}"):
                    self.client.modify_mount_target_security_groups(
                        MountTargetId=target["MountTargetId"], SecurityGroups=[*groups, group_id])
            return MountTarget(target["MountTargetId"], zone, target.get("IpAddress", ""), False)
        with ec2_errors(f"creating a mount target of {fs_id} in {subnet_id}"):
            made = self.client.create_mount_target(FileSystemId=fs_id, SubnetId=subnet_id,
                                                   SecurityGroups=[group_id])
        return MountTarget(made["MountTargetId"], zone, made.get("IpAddress", ""), True)

    def release(self, fs_id: str, group_id: str, timeout: float = 300) -> int:
        """Delete FS_ID's mount targets whose only group is GROUP_ID and take GROUP_ID out of
        the others; wait until the deleted ones are gone (their interfaces hold the group).
        Returns how many were deleted. A file system that is gone is no error."""
        try:
            targets = self.mount_targets(fs_id)
        except CloudError as error:
            if "FileSystemNotFound" in str(error):
                return 0
            raise
        deleted = []
        for target in targets:
            groups = self.groups_of(target["MountTargetId"])
            if group_id not in groups:
                continue
            if groups == [group_id]:
                with ec2_errors(f"deleting mount target {target['MountTargetId']}"):
                    self.client.delete_mount_target(MountTargetId=target["MountTargetId"])
                deleted.append(target["MountTargetId"])
            else:
                with ec2_errors(f"removing {group_id} from {target['MountTargetId']}"):
                    self.client.modify_mount_target_security_groups(
                        MountTargetId=target["MountTargetId"],
                        SecurityGroups=[g for g in groups if g != group_id])
        deadline = time.monotonic() + timeout
        while deleted:
            left = {t["MountTargetId"] for t in self.mount_targets(fs_id)}
            if not left & set(deleted):
                break
            if time.monotonic() > deadline:
                raise CloudError(f"mount targets {', '.join(sorted(left & set(deleted)))} of "
                                 f"{fs_id} still exist after {timeout:.0f} s")
            self.sleep(3)
        return len(deleted)


def efs_host(fs_id: str, region: str) -> str:
    """The DNS name nodes mount (resolves to the mount target in their zone)."""
    return f"{fs_id}.efs.{region}.amazonaws.com"

"""IAM_PROFILE: the instance profile a cluster's nodes or a course's desktops launch with.

A profile that exists is used as it is (sclust never changes or deletes it). A missing one is
created with a role of the same name, trusted by EC2 and allowed exactly what the template's
data plugins need (`s3mount.S3Mount`: list and read each bucket, write where READ_ONLY is
False), both tagged `sclust:created-for` = "cluster TAG" / "desktops COURSE"; terminating that
cluster or course deletes them.
"""

from __future__ import annotations

from typing import Any

from sclust.cloud import Cloud
from sclust.iampolicy import data_role_policy
from sclust.progress import Progress


def ensure_profile(cloud: Cloud, progress: Progress, name: str, owner: str,
                   plugins: list[dict[str, Any]]) -> None:
    from sclust.plugins.s3mount import role_buckets

    buckets = role_buckets(plugins)
    if cloud.ensure_instance_profile(name, owner, data_role_policy(buckets)):
        allowed = ", ".join(f"{b} ({'read-write' if w else 'read-only'})" for b, w in buckets)
        progress.step(f"created instance profile and role {name} for {owner} (S3: "
                      f"{allowed or 'nothing'}); removed when {owner} is terminated")
    else:
        progress.step(f"instance profile {name} exists: the instances use it as it is")


def remove_profile(cloud: Cloud, progress: Progress, name: str | None, owner: str) -> None:
    if name and cloud.remove_instance_profile(name, owner):
        progress.step(f"deleted instance profile and role {name} (created for {owner})")

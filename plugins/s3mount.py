"""Mount an S3 bucket on every node (or desktop) with the instance's role: no keys anywhere.

    [plugin shared]
    SETUP_CLASS = s3mount.S3Mount
    BUCKET = course-data
    MOUNT_PATH = /data          (default /mnt/BUCKET)
    READ_ONLY = True            (default; False: everyone on the node may write)
    PREFIX = week1              (optional: only that folder of the bucket)

The template's IAM_PROFILE gives the instances their role; when sclust creates that profile,
its role may exactly what these plugins need (`role_buckets`): list and read each bucket, and
write where READ_ONLY = False. s3fs (Debian's package, installed if missing) signs with the
role's credentials from IMDSv2 (`iam_role=auto`) and uses AWS_ENDPOINT_URL from the
instance's /etc/environment when it names one (the local cloud does).
"""

from __future__ import annotations

import re
from typing import Any

from sclust.plugins.base import ClusterSetup, PluginNode
from sclust.scripts import ScriptFile, ScriptRun
from sclust.values import as_bucket, as_mount_path

MOUNT = ScriptFile("sclust.plugins", "scripts/s3-mount.sh")
PREFIX = re.compile(r"^[A-Za-z0-9._+@,=-]+(?:/[A-Za-z0-9._+@,=-]+)*$")
CLASS_NAMES = ("s3mount.S3Mount", "sclust.plugins.s3mount.S3Mount")


class S3Mount(ClusterSetup):
    """Mounts BUCKET at MOUNT_PATH on the master and every node, read-only unless told."""

    public_settings = ("bucket", "mount_path", "read_only", "prefix")

    def __init__(self, bucket: str = "", mount_path: str = "", read_only: bool = True,
                 prefix: str = "") -> None:
        super().__init__()
        if not bucket:
            raise ValueError("BUCKET is required: the S3 bucket to mount")
        self.bucket = as_bucket(bucket)
        self.mount_path = as_mount_path(mount_path or f"/mnt/{bucket}")
        self.read_only = read_only
        self.prefix = prefix.strip("/")
        if self.prefix and (not PREFIX.match(self.prefix)
                            or any(p in (".", "..") for p in self.prefix.split("/"))):
            raise ValueError(f"PREFIX {prefix[:80]!r} may hold only letters, digits and "
                             "._+@,=- between /")

    def mount(self, node: PluginNode) -> None:
        node.ssh.execute_script(ScriptRun().add(
            MOUNT, bucket=self.bucket, mount_path=self.mount_path, prefix=self.prefix or None,
            writable=not self.read_only))

    def run(self, nodes: list[PluginNode], master: PluginNode, user: str, user_shell: str,
            volumes: list[dict[str, Any]]) -> None:
        self.each(nodes, self.mount)
        how = "read-only" if self.read_only else "read-write"
        self.report(f"s3://{self.bucket}/{self.prefix} mounted {how} at {self.mount_path} on "
                    f"{len(nodes)} node(s)")

    def on_add_node(self, node: PluginNode, nodes: list[PluginNode], master: PluginNode,
                    user: str, user_shell: str, volumes: list[dict[str, Any]]) -> None:
        self.mount(node)

    def on_restart(self, nodes: list[PluginNode], master: PluginNode, user: str,
                   user_shell: str, volumes: list[dict[str, Any]]) -> None:
        self.each(nodes, self.mount)


def role_buckets(plugins: list[dict[str, Any]]) -> list[tuple[str, bool]]:
    """(bucket, writable) of every S3Mount among PLUGINS (PluginSpec dicts: setup_class,
    settings): what a role sclust creates for IAM_PROFILE is allowed."""
    from sclust.values import as_bool

    buckets = []
    for plugin in plugins:
        if plugin.get("setup_class") not in CLASS_NAMES:
            continue
        settings = {str(k).lower(): str(v) for k, v in (plugin.get("settings") or {}).items()}
        if "bucket" not in settings:
            continue
        read_only = as_bool(settings["read_only"]) if "read_only" in settings else True
        buckets.append((as_bucket(settings["bucket"]), not read_only))
    return buckets

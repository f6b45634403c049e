"""The login user found without LOGIN_USER: an account whose key only runs a forced
"Please login as ubuntu" command (root on Ubuntu and Amazon AMIs) is passed over."""

from __future__ import annotations

import time
from pathlib import Path

from localcloud_helpers import launch, ssh_to, terminate

from sclust.ssh import Connection, PinnedHostKeys


def test_a_forced_please_login_as_command_is_not_taken_for_the_login(cloud, tmp_path: Path):
    instances = launch(cloud)
    try:
        root = ssh_to(cloud, instances[0])
        # As cloud-init writes it on Ubuntu AMIs (with a sleep that would stall a naive check).
        root.run("sed -i 's/^/no-pty,command=\"echo Please login as the user \\\\\"ubuntu\\\\\" "
                 "rather than the user \\\\\"root\\\\\".;echo;sleep 10;exit 142\" /' "
                 "/root/.ssh/authorized_keys")
        root.close()
        key = tmp_path / "key.pem"
        key.write_text(cloud.key_pem)
        key.chmod(0o600)
        address = instances[0].get("PublicIpAddress") or instances[0]["PrivateIpAddress"]
        connection = Connection("host", address, None, key, PinnedHostKeys(tmp_path / "known"),
                                candidates=("root", "ubuntu"))
        began = time.monotonic()
        try:
            connection.open(wait=20)
            assert connection.user == "ubuntu"
            assert connection.run("id -un", sudo=True).stdout.strip() == "root"
        finally:
            connection.close()
        assert time.monotonic() - began < 5  # the forced command's sleep is not waited out
    finally:
        terminate(cloud, instances)

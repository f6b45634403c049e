"""NFS, emulated: /etc/exports + exportfs -ra on the server, mount -t nfs (or fstab and
mount -a) on clients give the server's files with uids intact; unexported paths are refused."""

from __future__ import annotations

import pytest
from localcloud_helpers import launch, reboot_and_wait, ssh_to, terminate


@pytest.fixture
def trio(cloud):
    instances = launch(cloud, 3)
    yield instances
    terminate(cloud, instances)


def hosts_lines(instances, names):
    return "".join(f"{i['PrivateIpAddress']} {n}\n" for i, n in zip(instances, names, strict=True))


def test_exported_directory_is_shared_with_uids_and_unexported_paths_are_refused(cloud, trio):
    server, client, outsider = trio
    names = ["master", "node001", "node002"]
    sessions = [ssh_to(cloud, i) for i in trio]
    for ssh in sessions:
        ssh.run(f"printf '{hosts_lines(trio, names)}' >> /etc/hosts; "
                "groupadd -g 3001 sgeusers; useradd -u 3001 -g 3001 -m alice")
    master, node1, node2 = sessions
    master.run("mkdir -p /export/share /export/private; chown alice:sgeusers /export/share; "
               "chmod 750 /export/share; echo from-server > /export/share/hello; "
               "echo '/export/share node001(rw,sync,no_root_squash,no_subtree_check)' "
               "> /etc/exports; exportfs -ra")
    assert "/export/share" in master.run("exportfs -v")[1]

    node1.run("mkdir -p /mnt/share && mount -t nfs master:/export/share /mnt/share")
    assert node1.run("cat /mnt/share/hello")[1] == "from-server\n"
    assert node1.run("stat -c '%u:%g %a' /mnt/share")[1].strip() == "3001:3001 750"
    node1.run("su alice -c 'echo from-client > /mnt/share/by-alice'")
    assert master.run("stat -c %U:%G /export/share/by-alice; cat /export/share/by-alice")[1] \
        .split() == ["alice:sgeusers", "from-client"]

    # Not exported at all, and exported but not to this client: refused like NFS.
    code, _, err = node1.run("mkdir -p /mnt/x && mount -t nfs master:/export/private /mnt/x",
                             check=False)
    assert code == 32 and "access denied" in err
    code, _, err = node2.run("mkdir -p /mnt/share && mount -t nfs master:/export/share /mnt/share",
                             check=False)
    assert code == 32 and "access denied" in err
    assert node2.run("ls /mnt/share")[1] == ""
    # Never outside the export: not by `..`, not through a symlink inside it.
    master.run("echo server-root-secret > /root/secret; ln -s /root /export/share/to-root")
    for spec in ("master:/export/share/../private", "master:/export/share/to-root"):
        code, _, err = node1.run(f"mkdir -p /mnt/y && mount -t nfs {spec} /mnt/y", check=False)
        assert code == 32, err
        assert node1.run("cat /mnt/y/secret", check=False)[0] != 0
    # Unexported again: new mounts are refused.
    master.run(": > /etc/exports; exportfs -ra")
    code, _, _ = node1.run("mkdir -p /mnt/again && mount -t nfs master:/export/share /mnt/again",
                           check=False)
    assert code == 32
    node1.run("umount /mnt/share")
    assert node1.run("ls /mnt/share")[1] == ""
    assert outsider  # (node002 is the client the export excluded)
    for ssh in sessions:
        ssh.close()


def test_fstab_entries_mount_with_mount_a_read_only_exports_stay_read_only(cloud, trio):
    server, client, _ = trio
    master, node = ssh_to(cloud, server), ssh_to(cloud, client)
    ip = server["PrivateIpAddress"]
    master.run("mkdir -p /home/shared /opt/sw; echo tool > /opt/sw/tool; "
               "printf '/home/shared 172.31.0.0/16(rw,no_root_squash)\\n"
               "/opt/sw *(ro)\\n' > /etc/exports; exportfs -ra")
    node.run(f"mkdir -p /home/shared /opt/sw; "
             f"echo '{ip}:/home/shared /home/shared nfs defaults,_netdev 0 0' >> /etc/fstab; "
             f"echo '{ip}:/opt/sw /opt/sw nfs ro 0 0' >> /etc/fstab; mount -a; mount -a")
    node.run("touch /home/shared/from-node")
    assert master.run("ls /home/shared")[1].split() == ["from-node"]
    assert node.run("cat /opt/sw/tool")[1] == "tool\n"
    code, _, err = node.run("touch /opt/sw/nope", check=False)
    assert code != 0 and "Read-only" in err
    assert node.run("findmnt -n /home/shared | wc -l")[1].strip() == "1"  # mount -a twice
    # A reboot of the client leaves nothing mounted; mount -a brings it back. The server's
    # exports come back at its own boot (nfs-server starts at boot).
    node.close()
    node = reboot_and_wait(cloud, client)
    assert node.run("ls /home/shared")[1] == ""
    master.close()
    master = reboot_and_wait(cloud, server)
    node.run("mount -a")
    assert node.run("ls /home/shared")[1].split() == ["from-node"]
    master.close()
    node.close()

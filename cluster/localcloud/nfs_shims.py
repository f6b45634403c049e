"""Sources of the `exportfs` and `mount.nfs` programs placed in every host's image layer.

They run inside a host (with the host's own /usr/bin/python3) and ask the daemon, over the unix
socket bound at /run/sclust/nfs.sock, to do what the kernel's NFS would: the daemon knows which
host is asking from the socket's peer credentials."""

from __future__ import annotations

_CLIENT = r'''
import json, socket, sys

def ask(request):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.connect("/run/sclust/nfs.sock")
    except OSError as e:
        sys.stderr.write("%s: cannot reach the local cloud's NFS service: %s\n" % (PROG, e))
        sys.exit(32)
    s.sendall(json.dumps(request).encode() + b"\n")
    data = b""
    while not data.endswith(b"\n"):
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    return json.loads(data or b'{"ok": false, "message": "no answer"}')
'''

EXPORTFS_SHIM = "#!/usr/bin/python3 -IS\n" + r'''"""exportfs of sclust's local cloud.
The daemon reads this host's /etc/exports."""
PROG = "exportfs"
''' + _CLIENT + r'''
args = sys.argv[1:]
flags = "".join(a[1:] for a in args if a.startswith("-") and not a.startswith("--"))
if "u" in flags and "a" in flags:
    answer = ask({"op": "unexport_all"})
elif "r" in flags or "a" in flags:
    answer = ask({"op": "exportfs"})
else:
    answer = ask({"op": "list", "verbose": "v" in flags})
if answer.get("output"):
    sys.stdout.write(answer["output"])
if answer.get("message"):
    sys.stderr.write("exportfs: %s\n" % answer["message"])
sys.exit(0 if answer.get("ok") else 1)
'''

MOUNT_NFS_SHIM = "#!/usr/bin/python3 -IS\n" + r'''"""mount.nfs of sclust's local cloud.
The daemon binds the server's exported directory here."""
PROG = "mount.nfs"
''' + _CLIENT + r'''
import os
argv = sys.argv[1:]
if len(argv) < 2:
    sys.stderr.write("usage: mount.nfs remotetarget dir [-rvVwfnsh] [-o nfsoptions]\n")
    sys.exit(2)
spec, target = argv[0], argv[1]
options = ""
if "-o" in argv[2:]:
    i = argv.index("-o", 2)
    options = argv[i + 1] if i + 1 < len(argv) else ""
read_only = "-r" in argv[2:]
if ":" not in spec:
    sys.stderr.write("mount.nfs: remote share not in 'host:dir' format\n")
    sys.exit(32)
server, path = spec.rsplit(":", 1)
server = server.strip("[]")
try:
    server_ip = socket.gethostbyname(server)
except OSError:
    sys.stderr.write("mount.nfs: Failed to resolve server %s: Name or service not known\n" % server)
    sys.exit(32)
target = os.path.realpath(target)
if not os.path.isdir(target):
    sys.stderr.write("mount.nfs: mount point %s does not exist\n" % target)
    sys.exit(32)
answer = ask({"op": "mount", "server_ip": server_ip, "server": server, "path": path,
              "target": target, "options": options, "read_only": read_only})
if answer.get("message"):
    sys.stderr.write("mount.nfs: %s\n" % answer["message"])
sys.exit(0 if answer.get("ok") else 32)
'''

MOUNT_VOLUME_SHIM = "#!/usr/bin/python3 -IS\n" + r'''"""mount.ext4
(and ext3, ext2) of sclust's local cloud. A host has no privilege to mount a block
device; the daemon mounts the attached volume here, after checking that the device is one
of this host's volumes."""
PROG = "mount"
''' + _CLIENT + r'''
import os
argv = sys.argv[1:]
if len(argv) < 2:
    sys.stderr.write("usage: mount.ext4 device dir [-sfnv] [-o options]\n")
    sys.exit(1)
device, target = os.path.realpath(argv[0]), os.path.realpath(argv[1])
options = ""
if "-o" in argv[2:]:
    i = argv.index("-o", 2)
    options = argv[i + 1] if i + 1 < len(argv) else ""
if not os.path.isdir(target):
    sys.stderr.write("mount: %s: mount point does not exist.\n" % target)
    sys.exit(32)
answer = ask({"op": "mount_volume", "device": device, "target": target, "options": options,
              "fstype": os.path.basename(sys.argv[0]).partition(".")[2] or "ext4"})
if answer.get("message"):
    sys.stderr.write("mount: %s: %s\n" % (target, answer["message"]))
sys.exit(0 if answer.get("ok") else 32)
'''

RESIZE2FS_SHIM = "#!/usr/bin/python3 -IS\n" + r'''"""resize2fs of sclust's local cloud
(/usr/local/sbin: before /usr/sbin in PATH). Growing a *mounted* ext4 needs a privilege hosts
lack: the daemon grows an attached volume for it. Everything else is the real resize2fs."""
PROG = "resize2fs"
''' + _CLIENT + r'''
import os, stat
REAL = "/usr/sbin/resize2fs"
args = sys.argv[1:]
words = [a for a in args if not a.startswith("-")]
device = words[0] if words else None
simple = device is not None and len(words) == 1 and all(a in ("-f", "-F", "-p") for a in args
                                                          if a.startswith("-"))
mounted = False
if simple:
    try:
        rdev = os.stat(device).st_rdev if stat.S_ISBLK(os.stat(device).st_mode) else None
    except OSError:
        rdev = None
    if rdev is not None:
        wanted = "%d:%d" % (os.major(rdev), os.minor(rdev))
        with open("/proc/self/mountinfo") as f:
            mounted = any(line.split()[2] == wanted for line in f)
if not mounted:
    os.execv(REAL, [REAL] + args)
answer = ask({"op": "resize_volume", "device": os.path.realpath(device)})
if answer.get("message"):
    (sys.stdout if answer.get("ok") else sys.stderr).write("%s\n" % answer["message"])
sys.exit(0 if answer.get("ok") else 1)
'''

"""Start one host, confined the way a container runtime confines a container.

Run by the daemon as `python -I -m sclust.localcloud.launch` (a fresh, single-threaded process:
namespaces can only be entered by one). It works in two halves:

1. As the machine's root, in a private mount namespace and the host's network namespace, it
   builds the host's root: an overlay of the image layer over an *idmapped* view of this
   machine's `/` (files owned by uid N appear owned by ID_BASE+N, i.e. by N inside the host), a
   private /dev with the usual nodes, /run, /tmp, and /sys read-only.
2. It then enters a user namespace of its own that maps the host's uids 0…65535 onto
   ID_BASE…ID_BASE+65535, and creates the host's mount, UTS, IPC and PID namespaces *inside*
   it. Root in the host has every capability there and none on the machine: it cannot create
   device nodes, load modules, change the clock, write the machine's sysctls or unmount what
   half 1 mounted (those mounts are locked), and it owns no file of the machine.

Nothing from the host's filesystem is executed before half 2: the host's init (bash) is the
first program run there, and it runs as root of the host.

Environment: H (host directory), IMGSRC (image layer), SOCK (NFS socket), NETNS (network
namespace name), ID_BASE. Prints nothing itself; the host's init prints READY on fd 1.
"""

from __future__ import annotations

import os
import shutil
import signal
import stat
import subprocess
import sys
from pathlib import Path

from sclust.localcloud import kernel as k

ID_COUNT = 65536
HOST_INIT = "/usr/lib/sclust/host-init"
# Device nodes of every host's /dev (what a container runtime gives), by (type, major, minor).
DEVICES = {
    "null": (1, 3), "zero": (1, 5), "full": (1, 7), "random": (1, 8), "urandom": (1, 9),
    "tty": (5, 0), "fuse": (10, 229),
}
# Kernel interfaces a host could read too much from or write to: hidden behind /dev/null.
PROC_MASKS = ("kcore", "keys", "timer_list", "sysrq-trigger", "kallsyms")
TTY_GID = 5
WAITER = "/usr/bin/perl"
# Exit as the init did: its status, or the signal that ended it (as `unshare --fork` does).
WAIT_SCRIPT = ('my $pid = shift; waitpid($pid, 0); my $status = $?;'
               ' if ($status & 127) { $SIG{$_} = "DEFAULT" for keys %SIG;'
               ' kill($status & 127, $$); sleep 1; exit(128 + ($status & 127)); }'
               ' exit($status >> 8);')


def main() -> int:
    host_dir = Path(os.environ["H"])
    base = int(os.environ["ID_BASE"])
    # fd 3: where the init says READY (the daemon's pipe); 1 and 2: the host's console log.
    ready = os.dup(1)
    console = os.open(host_dir / "console.log", os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    os.dup2(ready, 3)
    os.dup2(console, 1)
    os.dup2(console, 2)
    for fd in {ready, console} - {1, 2, 3}:
        os.close(fd)
    os.set_inheritable(3, True)  # os.dup's copy is close-on-exec (and may already be fd 3)
    try:
        root = build_root(host_dir, base, os.environ["IMGSRC"], os.environ.get("SOCK", ""),
                          os.environ["NETNS"])
    except Exception as error:  # noqa: BLE001 - told on the console; the daemon shows its tail
        print(f"launch: {error}", file=sys.stderr, flush=True)
        return 1
    return enter_and_run(root, base)


def build_root(host_dir: Path, base: int, image_src: str, nfs_socket: str, netns: str) -> Path:
    """Half 1, as the machine's root: the host's root tree in a private mount namespace."""
    with open(f"/run/netns/{netns}", "rb") as ns:
        k.setns(ns.fileno(), k.CLONE_NEWNET)
    _allow_low_ports()
    k.unshare(k.CLONE_NEWNS)
    k.mount(None, "/", None, k.MS_REC | k.MS_PRIVATE)
    userns = make_user_namespace(base)
    os.environ["LAUNCH_USERNS_FD"] = str(userns)

    lower, image, upper, work, root = (host_dir / name
                                       for name in ("lower", "image", "upper", "work", "root"))
    for path in (lower, image, work, root):
        path.mkdir(exist_ok=True)
    if not upper.exists():
        upper.mkdir()
        os.chown(upper, base, base)  # the root directory of the host is its root's
    os.chmod(upper, 0o755)

    # This machine's `/` (that filesystem only), read-only, no devices, owners shifted.
    tree = k.open_tree("/")
    k.mount_setattr(tree, k.MOUNT_ATTR_IDMAP, userns_fd=userns)
    k.mount_setattr(tree, k.MOUNT_ATTR_RDONLY | k.MOUNT_ATTR_NODEV)
    k.move_mount(tree, str(lower))
    os.close(tree)
    # The image layer on a tmpfs: overlayfs refuses two lower layers of one filesystem.
    k.mount("image", str(image), "tmpfs", 0, f"mode=755,uid={base},gid={base}")
    subprocess.run(["cp", "-a", f"{image_src}/.", f"{image}/"], check=True)
    _shift_owners(image, base)
    k.mount("overlay", str(root), "overlay", k.MS_NODEV,
            f"lowerdir={image}:{lower},upperdir={upper},workdir={work}")

    r = str(root)
    _make_dev(f"{r}/dev", base)
    k.mount("run", f"{r}/run", "tmpfs", k.MS_NOSUID | k.MS_NODEV,
            f"mode=755,uid={base},gid={base}")
    for name, mode in (("sshd", 0o755), ("lock", 0o1777), ("sclust", 0o755)):
        os.mkdir(f"{r}/run/{name}")
        os.chmod(f"{r}/run/{name}", mode)
        os.chown(f"{r}/run/{name}", base, base)
    k.mount("tmp", f"{r}/tmp", "tmpfs", k.MS_NOSUID | k.MS_NODEV,
            f"mode=1777,uid={base},gid={base}")
    # /sys: the machine's, read-only all the way down (a host owns no network namespace of
    # its own user namespace, so it could not mount a sysfs of its own).
    tree = k.open_tree("/sys", k.OPEN_TREE_CLONE | k.OPEN_TREE_CLOEXEC | k.AT_RECURSIVE)
    k.mount_setattr(tree, k.MOUNT_ATTR_RDONLY | k.MOUNT_ATTR_NOSUID | k.MOUNT_ATTR_NODEV
                    | k.MOUNT_ATTR_NOEXEC, recursive=True)
    k.move_mount(tree, f"{r}/sys")
    os.close(tree)
    if nfs_socket and stat.S_ISSOCK(os.stat(nfs_socket).st_mode):
        Path(f"{r}/run/sclust/nfs.sock").touch()
        k.mount(nfs_socket, f"{r}/run/sclust/nfs.sock", None, k.MS_BIND)
    seed = f"{r}/run/sclust/seed"
    shutil.copytree(host_dir / "seed", seed)
    for entry in [seed, *(str(p) for p in Path(seed).iterdir())]:
        os.chown(entry, base, base)
    return root


def _shift_owners(top: Path, base: int) -> None:
    """The machine's uid/gid N → the host's N (base + N), for every entry under `top`."""
    for path in [top, *top.rglob("*")]:
        info = path.lstat()
        if info.st_uid < ID_COUNT and info.st_gid < ID_COUNT:
            os.lchown(path, base + info.st_uid, base + info.st_gid)


def _allow_low_ports() -> None:
    """In the host's network namespace (owned by the machine's user namespace), let the
    host's root bind ports below 1024 (sshd: 22) and ping, without any capability there."""
    with open("/proc/sys/net/ipv4/ip_unprivileged_port_start", "w") as f:
        f.write("0")
    with open("/proc/sys/net/ipv4/ping_group_range", "w") as f:
        f.write("0 2147483647")


def make_user_namespace(base: int) -> int:
    """A user namespace mapping 0…65535 onto base…base+65535; returns an fd of it."""
    ready_r, ready_w = os.pipe()
    go_r, go_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # only syscalls, then _exit
        try:
            os.close(ready_r)
            os.close(go_w)
            k.unshare(k.CLONE_NEWUSER)
            os.write(ready_w, b"u")
            os.read(go_r, 1)
            os._exit(0)
        except BaseException:
            os._exit(1)
    os.close(ready_w)
    os.close(go_r)
    try:
        if os.read(ready_r, 1) != b"u":
            raise OSError("could not create the host's user namespace")
        for name in ("uid_map", "gid_map"):
            fd = os.open(f"/proc/{pid}/{name}", os.O_WRONLY)
            try:
                os.write(fd, f"0 {base} {ID_COUNT}\n".encode())
            finally:
                os.close(fd)
        return os.open(f"/proc/{pid}/ns/user", os.O_RDONLY)
    finally:
        os.close(go_w)
        os.close(ready_r)
        os.waitpid(pid, 0)


def _make_dev(dev: str, base: int) -> None:
    k.mount("dev", dev, "tmpfs", k.MS_NOSUID, f"mode=755,size=4m,uid={base},gid={base}")
    for name, (major, minor) in DEVICES.items():
        os.mknod(f"{dev}/{name}", 0o666 | stat.S_IFCHR, os.makedev(major, minor))
        os.chmod(f"{dev}/{name}", 0o666)  # mknod's mode went through the umask
        os.chown(f"{dev}/{name}", base, base)
    for name, mode in (("pts", 0o755), ("shm", 0o1777)):
        os.mkdir(f"{dev}/{name}")
        os.chmod(f"{dev}/{name}", mode)
        os.chown(f"{dev}/{name}", base, base)
    k.mount("devpts", f"{dev}/pts", "devpts", k.MS_NOSUID | k.MS_NOEXEC,
            f"newinstance,ptmxmode=0666,mode=0620,gid={base + TTY_GID}")
    k.mount("shm", f"{dev}/shm", "tmpfs", k.MS_NOSUID | k.MS_NODEV,
            f"mode=1777,uid={base},gid={base}")
    for name, target in (("ptmx", "pts/ptmx"), ("fd", "/proc/self/fd"),
                         ("stdin", "/proc/self/fd/0"), ("stdout", "/proc/self/fd/1"),
                         ("stderr", "/proc/self/fd/2")):
        os.symlink(target, f"{dev}/{name}")
        os.lchown(f"{dev}/{name}", base, base)


def enter_and_run(root: Path, base: int) -> int:
    """Half 2: become root of the host's user namespace, make its other namespaces inside it,
    and run its init as PID 1; exit as the init ends (its signal included, like unshare)."""
    os.chdir(root)  # before: the machine's directories above it are not the host's to enter
    userns = int(os.environ.pop("LAUNCH_USERNS_FD"))
    k.setns(userns, k.CLONE_NEWUSER)
    os.close(userns)
    os.setgroups([])
    os.setresgid(0, 0, 0)
    os.setresuid(0, 0, 0)
    k.unshare(k.CLONE_NEWNS | k.CLONE_NEWUTS | k.CLONE_NEWIPC | k.CLONE_NEWPID)
    pid = os.fork()
    if pid == 0:
        try:
            _become_init()
        except BaseException as error:  # noqa: BLE001
            print(f"launch: {error}", file=sys.stderr, flush=True)
        os._exit(127)
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 3):
        os.dup2(null, fd)
    # Wait for the init as a much smaller program than this interpreter (one waits per host,
    # for the host's whole life): the child stays ours across exec. Debian's perl is Essential.
    if os.path.exists(WAITER):
        os.execv(WAITER, [WAITER, "-e", WAIT_SCRIPT, str(pid)])
    _, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status):
        os.kill(os.getpid(), os.WTERMSIG(status))
    return os.waitstatus_to_exitcode(status)


def _become_init() -> None:
    """PID 1 of the host: its own /proc, then the root switch, then the host's init."""
    # If the launcher dies (killed by hand, a crash), the host dies with it, never orphaned.
    if k.set_parent_death_signal(signal.SIGKILL) and os.getppid() == 1:
        os._exit(1)
    # pivot_root refuses a new root that is locked (as every mount half 1 made is, seen from
    # this user namespace): switch to a copy of the tree made here, whose top is not.
    tree = k.open_tree(".", k.OPEN_TREE_CLONE | k.OPEN_TREE_CLOEXEC | k.AT_RECURSIVE)
    k.move_mount(tree, ".")
    os.fchdir(tree)
    os.close(tree)
    k.mount("proc", "proc", "proc", k.MS_NOSUID | k.MS_NODEV | k.MS_NOEXEC)
    k.mount("proc/sys", "proc/sys", None, k.MS_BIND)
    k.mount(None, "proc/sys", None, k.MS_BIND | k.MS_REMOUNT | k.MS_RDONLY | k.MS_NOSUID
            | k.MS_NODEV | k.MS_NOEXEC)
    for name in PROC_MASKS:
        if os.path.exists(f"proc/{name}"):
            k.mount("dev/null", f"proc/{name}", None, k.MS_BIND)
    k.pivot_root(".", ".")
    k.umount(".", k.MNT_DETACH)
    os.chdir("/")
    env = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
           "HOME": "/root", "LANG": "C.UTF-8"}
    os.execve("/bin/bash", ["/bin/bash", HOST_INIT], env)


if __name__ == "__main__":
    sys.exit(main())

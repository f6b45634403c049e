"""Source of `poweroff`, `halt`, `reboot` and `shutdown` in every host's image layer.

A host's PID 1 is not systemd (this machine's `poweroff` is systemctl, which would refuse), so
these call reboot(2) themselves: inside a PID namespace the kernel then ends the namespace's
init with SIGINT (power off, halt) or SIGHUP (restart), and the daemon, seeing how the host
ended, does what EC2 does for an instance-initiated shutdown (stop, or terminate) or reboot."""

from __future__ import annotations

POWER_SHIM = "#!/usr/bin/python3 -IS\n" + r'''"""poweroff, halt, reboot, shutdown (local cloud).
They call reboot(2)."""
import ctypes, os, signal, subprocess, sys, time

PROG = os.path.basename(sys.argv[0])
POWER_OFF, RESTART = 0x4321FEDC, 0x01234567
PENDING = "/run/sclust/shutdown.pid"
USAGE = """usage: poweroff | halt | reboot   (now)
       shutdown [-h|-P|-H|-r|-c|-k] [now|+MIN|HH:MM] [message]"""


def now(command):
    # The machine's own PID namespace has this fixed inode: never power off the machine itself.
    # And a host always has its seed (a container's init namespace might not be the machine's).
    if os.stat("/proc/self/ns/pid").st_ino == 0xEFFFFFFC or not os.path.exists("/run/sclust/seed"):
        sys.exit("%s: not inside a local-cloud host; refusing" % PROG)
    libc = ctypes.CDLL(None, use_errno=True)
    libc.sync()
    libc.reboot(ctypes.c_int(command))
    sys.exit("%s: reboot(2) failed: %s" % (PROG, os.strerror(ctypes.get_errno())))


def cancel():
    try:
        os.kill(int(open(PENDING).read()), signal.SIGTERM)
        os.unlink(PENDING)
    except (OSError, ValueError):
        pass


def delay(when):
    """Seconds until WHEN (now, +MIN, HH:MM), or None if it is not a time."""
    if when == "now":
        return 0
    if when.startswith("+") and when[1:].isdigit():
        return 60 * int(when[1:])
    hours, _, minutes = when.partition(":")
    if hours.isdigit() and minutes.isdigit() and int(hours) < 24 and int(minutes) < 60:
        t = time.localtime()
        left = (int(hours) * 60 + int(minutes)) * 60 - (t.tm_hour * 3600 + t.tm_min * 60 + t.tm_sec)
        return left if left > 0 else left + 86400
    return None


def main():
    args = sys.argv[1:]
    if "--help" in args:
        print(USAGE)
        return
    command = RESTART if PROG == "reboot" else POWER_OFF
    if PROG != "shutdown":
        now(command)
    seconds = 60  # shutdown's default: in one minute
    for arg in args:
        if arg in ("-r", "--reboot"):
            command = RESTART
        elif arg == "-c":
            cancel()
            return
        elif arg == "-k":
            return
        elif not arg.startswith("-") and delay(arg) is not None:
            seconds = delay(arg)
            break
    if seconds == 0:
        now(command)
    cancel()
    action = "reboot" if command == RESTART else "poweroff"
    pending = subprocess.Popen(["/bin/sh", "-c", 'sleep "$0" && exec "$1"', str(seconds),
                                "/usr/sbin/" + action], start_new_session=True,
                               stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    with open(PENDING, "w") as f:
        f.write(str(pending.pid))
    print("%s scheduled in %d s, use 'shutdown -c' to cancel." % (action.capitalize(), seconds))


main()
'''

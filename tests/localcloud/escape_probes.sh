#!/bin/bash
# shellcheck disable=SC2016  # each probe is a command text, expanded when eval runs it
# Run as root inside a local-cloud host: every route out of a host the audit found. Each probe
# prints "PROBE <name> BLOCKED" when the route fails and "PROBE <name> ESCAPED" when it worked.
# Variables (set before): DISK ("major minor" of the machine's root device), STATE (the local
# cloud's state directory), SECRET (a 0600 file in the machine's /root), VARTMP (one in
# /var/tmp), MACHINE_KEY (the machine's SSH host key, public part).
probe() {
  if eval "$2" >/dev/null 2>&1; then echo "PROBE $1 ESCAPED"; else echo "PROBE $1 BLOCKED"; fi
}
probe core_pattern 'echo "|/bin/true" > /proc/sys/kernel/core_pattern'
mkdir -p /tmp/p && mount -t proc proc /tmp/p 2>/dev/null
probe core_pattern_fresh_proc 'echo "|/bin/true" > /tmp/p/sys/kernel/core_pattern'
probe remount_proc_sys 'mount -o remount,rw /proc/sys && echo 1 > /proc/sys/kernel/sysrq'
probe sysrq 'test -e /proc/sysrq-trigger && echo h > /proc/sysrq-trigger'
probe mknod_disk 'mknod /tmp/disk b $DISK && head -c 512 /tmp/disk'
probe mknod_dev_disk 'mknod /dev/disk0 b $DISK'
probe mount_machine_disk 'mkdir -p /tmp/m && mount -t ext4 /tmp/disk /tmp/m'
probe remount_sys 'mount -o remount,rw /sys && touch /sys/kernel/probe'
probe write_sys 'echo 1 > /sys/kernel/mm/ksm/run'
probe set_time 'date -s "2001-01-01 00:00:00"'
probe load_module 'python3 -c "import ctypes, sys; sys.exit(ctypes.CDLL(None).syscall(175, 0, 0, b\"\"))"'
probe raw_io 'python3 -c "import ctypes, sys; sys.exit(ctypes.CDLL(None).syscall(172, 3))"'
probe umount_dev 'umount -l /dev'
probe machine_shadow_hash 'grep -E "^root:[^*!:]" /etc/shadow'
probe machine_root_home 'ls -A /root | grep -qv -x -e .bashrc -e .profile -e .ssh -e .cache'
probe machine_state_dir 'ls "$STATE/credentials.json"'
probe machine_secret 'cat "$SECRET"'
probe machine_var_tmp 'cat "$VARTMP"'
probe machine_project 'ls /work'
probe machine_host_key 'test "$(cut -d" " -f2 /etc/ssh/ssh_host_ed25519_key.pub)" = "$MACHINE_KEY"'
echo PROBES DONE

# shellcheck shell=bash
# The end of a phase that ran nfs-mount.sh: every background mount succeeded.
# shellcheck disable=SC2154  # nfs_pids: set by nfs-mount.sh, sourced earlier in this shell
for pid in "${nfs_pids[@]}"; do
  wait "$pid" || { echo "an NFS mount failed" >&2; exit 11; }
done

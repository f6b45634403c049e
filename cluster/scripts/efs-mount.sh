# shellcheck shell=bash
# Mount EFS file systems (NFS 4.1 with AWS's recommended options), with fstab entries so a
# reboot keeps them. Inputs, one line per mount: efs_hosts (FS.efs.REGION.amazonaws.com) and
# efs_paths; the NFS client is installed if missing.
efs_hosts=() efs_paths=()
input_lines efs_hosts efs_hosts
input_lines efs_paths efs_paths
if ! command -v mount.nfs4 >/dev/null; then
  export DEBIAN_FRONTEND=noninteractive
  if command -v apt-get >/dev/null; then
    apt-get install -y -q --no-install-recommends nfs-common >/dev/null 2>&1 \
      || { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q nfs-common >/dev/null; }
  else
    "$(command -v dnf || command -v yum)" install -y -q nfs-utils >/dev/null
  fi
fi
options=nfsvers=4.1,rsize=1048576,wsize=1048576,hard,timeo=600,retrans=2,noresvport,_netdev
for i in "${!efs_paths[@]}"; do
  path=${efs_paths[$i]}
  entry="${efs_hosts[$i]}:/ $path nfs4"
  mkdir -p -- "$path"
  grep -qF -- "$entry " /etc/fstab || printf '%s %s 0 0\n' "$entry" "$options" >> /etc/fstab
  mountpoint -q -- "$path" || mount -- "$path"
done

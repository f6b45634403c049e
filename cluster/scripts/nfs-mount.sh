# shellcheck shell=bash
# Mount the master's shared paths, in order, with fstab entries so a reboot keeps them.
# Inputs, one line per path: nfs_paths, nfs_fstab_paths (escaped for fstab) and nfs_modes
# (`now`, or `background`: mounted while the rest of the phase runs; nfs-wait.sh at the end
# waits for them); nfs_server.
nfs_server=$(input nfs_server)
nfs_paths=() nfs_fstab_paths=() nfs_modes=() nfs_pids=()
input_lines nfs_paths nfs_paths
input_lines nfs_fstab_paths nfs_fstab_paths
input_lines nfs_modes nfs_modes
for i in "${!nfs_paths[@]}"; do
  path=${nfs_paths[$i]}
  entry="$nfs_server:${nfs_fstab_paths[$i]} ${nfs_fstab_paths[$i]}"
  mkdir -p -- "$path"
  grep -qF -- "$entry " /etc/fstab || printf '%s nfs defaults,_netdev,nofail 0 0\n' "$entry" >> /etc/fstab
  if mountpoint -q -- "$path"; then
    continue
  elif [ "${nfs_modes[$i]}" = background ]; then
    mount -- "$path" &
    nfs_pids+=("$!")
  else
    mount -- "$path"
  fi
done

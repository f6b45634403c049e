# shellcheck shell=bash
# On the master: mount each EBS volume whatever the device is called here (sdf, xvdf, NVMe).
# Inputs, one line per volume in the same order: volume_ids, volume_paths (mount points),
# volume_fstab_paths (the same, escaped for fstab), volume_devices (candidate devices).
volume_ids=() volume_paths=() volume_fstab_paths=() volume_devices=()
input_lines volume_ids volume_ids
input_lines volume_paths volume_paths
input_lines volume_fstab_paths volume_fstab_paths
input_lines volume_devices volume_devices
for i in "${!volume_ids[@]}"; do
  volume=${volume_ids[$i]}
  path=${volume_paths[$i]}
  read -r -a candidates <<< "${volume_devices[$i]}"
  dev=""
  for candidate in "${candidates[@]}"; do
    if [ -b "$candidate" ]; then dev=$candidate; break; fi
  done
  [ -n "$dev" ] || { echo "no block device for $volume (tried ${candidates[*]})" >&2; exit 3; }
  # A brand-new volume (no filesystem, no partition table at all) gets ext4; anything else on
  # it is never touched.
  if [ -z "$(blkid -p -o value -s TYPE "$dev" 2>/dev/null)" ] \
      && [ -z "$(blkid -p -o value -s PTTYPE "$dev" 2>/dev/null)" ]; then
    mkfs.ext4 -q "$dev"
  fi
  mkdir -p -- "$path"
  if ! mountpoint -q -- "$path"; then
    mount -- "$dev" "$path" \
      || { echo "cannot mount $dev on $path: is it formatted?" >&2; exit 4; }
  fi
  grep -qF " ${volume_fstab_paths[$i]} " /etc/fstab \
    || printf '%s %s auto defaults,nofail 0 2\n' "$dev" "${volume_fstab_paths[$i]}" >> /etc/fstab
done

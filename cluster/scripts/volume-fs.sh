# shellcheck shell=bash
# On a short-lived helper host (createvolume, resizevolume of a detached volume) or on the
# master a volume is attached to: find the volume's block device (sdX, xvdX or NVMe, waiting
# for it to appear), then give a blank one an ext4 file system, or grow its ext4 file system
# to the size of the device. Inputs: volume_devices (candidates, one line), volume_action
# (format or grow), volume_label (format).
read -r -a candidates <<< "$(input volume_devices)"
action=$(input volume_action)
dev=""
for _ in $(seq 1 120); do
  for candidate in "${candidates[@]}"; do
    if [ -b "$candidate" ]; then dev=$candidate; break 2; fi
  done
  sleep 0.5
done
[ -n "$dev" ] || { echo "no block device for the volume (tried ${candidates[*]})" >&2; exit 3; }
case $action in
  format)
    if [ -n "$(blkid -p -o value -s TYPE "$dev" 2>/dev/null)" ] \
        || [ -n "$(blkid -p -o value -s PTTYPE "$dev" 2>/dev/null)" ]; then
      echo "$dev is not blank: refusing to format it" >&2
      exit 5
    fi
    mkfs.ext4 -q -L "$(input volume_label)" "$dev"
    echo "formatted $dev as ext4"
    ;;
  grow)
    [ "$(blkid -p -o value -s TYPE "$dev" 2>/dev/null)" = ext4 ] \
      || { echo "$dev holds no ext4 file system: not grown" >&2; exit 6; }
    if ! findmnt -rn -S "$dev" > /dev/null; then
      # resize2fs insists on a checked file system when it is not mounted.
      status=0
      e2fsck -f -p "$dev" || status=$?
      [ "$status" -le 1 ] || { echo "e2fsck $dev exited $status" >&2; exit 7; }
    fi
    resize2fs "$dev"
    echo "grew the file system on $dev"
    ;;
  *)
    echo "unknown action $action" >&2
    exit 2
    ;;
esac

# shellcheck shell=bash
# S3Mount: mount bucket `bucket` (under `prefix`, if given) at `mount_path` with s3fs, signed
# with the instance's role credentials (iam_role=auto: fetched from IMDSv2, renewed by s3fs; no
# key on the node), read-only unless `writable`; an fstab line mounts it again at boot.
# Prints `mounted: PATH`.
bucket=$(input bucket)
mount_path=$(input mount_path)
prefix=""
if has_input prefix; then prefix=$(input prefix); fi
log=/var/log/sclust-s3mount.log
if ! command -v s3fs >/dev/null; then
  export DEBIAN_FRONTEND=noninteractive
  if ! apt-get install -y -q --no-install-recommends s3fs >>"$log" 2>&1; then
    apt-get update -q >>"$log" 2>&1
    apt-get install -y -q --no-install-recommends s3fs >>"$log" 2>&1 \
      || { tail -20 "$log" >&2; echo "cannot install s3fs" >&2; exit 1; }
  fi
fi
# The endpoint and region the instance's environment names (a VPC endpoint, the local cloud),
# else the region from the instance metadata and S3's regional endpoint.
setting() { sed -n "s/^$1=[\"']\{0,1\}\([^\"']*\)[\"']\{0,1\}\$/\1/p" /etc/environment 2>/dev/null \
  | tail -n 1; }
endpoint=$(setting AWS_ENDPOINT_URL)
region=$(setting AWS_DEFAULT_REGION)
if [ -z "$region" ]; then
  token=$(curl -fsS -m 5 -X PUT -H "X-aws-ec2-metadata-token-ttl-seconds: 60" \
    http://169.254.169.254/latest/api/token 2>/dev/null || true)
  region=$(curl -fsS -m 5 -H "X-aws-ec2-metadata-token: $token" \
    http://169.254.169.254/latest/meta-data/placement/region 2>/dev/null || true)
fi
region=${region:-us-east-1}
case $endpoint in
  "") options="url=https://s3.$region.amazonaws.com" ;;
  http://* | https://*) options="url=$endpoint,use_path_request_style" ;;
  *) echo "AWS_ENDPOINT_URL in /etc/environment is not an http(s) URL" >&2; exit 1 ;;
esac
case $region in
  *[!a-z0-9-]*) echo "the region is not a region name" >&2; exit 1 ;;
esac
options="$options,endpoint=$region,iam_role=auto,allow_other,logfile=$log"
if has_input writable; then
  options="$options,umask=0000,mp_umask=0000"
else
  options="$options,ro,umask=0222,mp_umask=0022"
fi
source_spec=$bucket
[ -z "$prefix" ] || source_spec="$bucket:/$prefix"
mkdir -p -- "$mount_path"
# One fstab line per mount path (replaced when the settings change).
escaped=$(printf '%s' "$mount_path" | sed 's/[.[\*^$/]/\\&/g')
touch /etc/fstab
sed -i "\\#^[^ ]* $escaped fuse.s3fs #d" /etc/fstab
printf '%s %s fuse.s3fs _netdev,%s 0 0\n' "$source_spec" "$mount_path" "$options" >> /etc/fstab
if mountpoint -q -- "$mount_path"; then
  umount -- "$mount_path" || umount -l -- "$mount_path"
fi
if ! s3fs "$source_spec" "$mount_path" -o "$options" >>"$log" 2>&1; then
  tail -20 "$log" >&2
  echo "s3fs could not mount $bucket at $mount_path" >&2
  exit 1
fi
for _ in $(seq 50); do
  mountpoint -q -- "$mount_path" && break
  sleep 0.2
done
if ! mountpoint -q -- "$mount_path" || ! ls -- "$mount_path" >/dev/null 2>>"$log"; then
  tail -20 "$log" >&2
  echo "s3fs did not mount $bucket at $mount_path (the role may not allow s3:ListBucket)" >&2
  exit 1
fi
# Where systemd is not PID 1 (the local cloud), nothing mounts fstab at boot: rc.local does.
if [ ! -d /run/systemd/system ]; then
  [ -e /etc/rc.local ] || printf '#!/bin/sh -e\n\nexit 0\n' > /etc/rc.local
  boot_line="mount -a -t fuse.s3fs || true"
  if ! grep -qxF -- "$boot_line" /etc/rc.local; then
    # Before the first `exit 0` (Debian's template ends with one), else at the end.
    awk -v line="$boot_line" \
      '!done && /^exit 0/ {print line; done=1} {print} END {if (!done) print line}' \
      /etc/rc.local > /etc/rc.local.sclust && cat /etc/rc.local.sclust > /etc/rc.local
    rm -f /etc/rc.local.sclust
  fi
  chmod 755 /etc/rc.local
fi
echo "mounted: $mount_path"

# shellcheck shell=bash
# Ensure a qmaster for this cluster runs here; the cluster's hosts become admin and submit hosts.
# Inputs: sge_master (this host's name), sge_hosts (every host, a line each), cluster_user.
#
# The image's own spool was made for another host, so it is rebuilt once (marker file); later
# runs (start -x) keep the spool and with it the jobs. SGE refuses jobs of ids below
# min_uid/min_gid (1000), and an image's own `sgeadmin` is a system account (Debian: 104), so
# the minimum is lowered to the cluster user's ids — before any execd reads it.
sge_install sge_qmaster "gridengine-master gridengine-client gridengine-exec" \
  "gridengine-qmaster gridengine-execd"
sge_master=$(input sge_master)
sge_hosts=()
input_lines sge_hosts sge_hosts
sge_user=$(input cluster_user)

marker=$SGE_SPOOL/.sclust-qmaster
if [ "$(cat "$marker" 2>/dev/null)" != "$sge_master" ]; then
  pkill -x sge_qmaster 2>/dev/null || true
  mkdir -p "$SGE_CELL_DIR/common" "$SGE_SPOOL/spooldb" "$SGE_SPOOL/qmaster"
  rm -rf "${SGE_SPOOL:?}"/spooldb/* "${SGE_SPOOL:?}"/qmaster/*
  cp /usr/share/gridengine/default-bootstrap "$SGE_CELL_DIR/common/bootstrap" 2>/dev/null || true
  chown -R sgeadmin: "$SGE_CELL_DIR" "$SGE_SPOOL"
  init_log=$(mktemp)
  # Constant paths only in this command line.
  su -s /bin/sh sgeadmin -c '/usr/share/gridengine/scripts/init_cluster /var/lib/gridengine default /var/spool/gridengine/spooldb sgeadmin' \
    >"$init_log" 2>&1 || { cat "$init_log" >&2; rm -f "$init_log"; exit 7; }
  rm -f "$init_log"
  printf '%s\n' "$sge_master" > "$marker"
fi
printf '%s\n' "$sge_master" | su -s /bin/sh sgeadmin -c 'cat > /var/lib/gridengine/default/common/act_qmaster'
mkdir -p /run/gridengine && chown sgeadmin: /run/gridengine
qmaster_answers() { qconf -sh >/dev/null 2>&1; }
qmaster_answers || /etc/init.d/gridengine-master start >/dev/null 2>&1 || true
wait_until 60 qmaster_answers || timed_out "sge_qmaster did not start"

conf=$(mktemp -d)  # qconf -Mconf takes the configuration's name from the file's
qconf -sconf global > "$conf/global"
uid=$(id -u "$sge_user")
gid=$(id -g "$sge_user")
sed -i -e "s/^min_uid .*/min_uid $(( uid < 1000 ? uid : 1000 ))/" \
  -e "s/^min_gid .*/min_gid $(( gid < 1000 ? gid : 1000 ))/" "$conf/global"
(cd "$conf" && qconf -Mconf global >/dev/null) || { echo "cannot set min_uid" >&2; exit 10; }
rm -rf "$conf"
host_list=$(IFS=,; printf '%s' "${sge_hosts[*]}")
qconf -ah "$host_list" >/dev/null 2>&1 || true
qconf -as "$host_list" >/dev/null 2>&1 || true
admins=$(qconf -sh)  # one query, whatever the cluster's size
for h in "${sge_hosts[@]}"; do
  printf '%s\n' "$admins" | grep -qxF -- "$h" || { echo "$h is not an admin host" >&2; exit 8; }
done

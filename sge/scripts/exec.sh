# shellcheck shell=bash
# Ensure an execd runs on this host (the cell directory is already mounted); print its slots
# (CPUs) and GPUs. Input: sge_host (this host's name, for messages).
sge_install sge_execd "gridengine-exec gridengine-client" gridengine-execd
sge_host=$(input sge_host)
mkdir -p /run/gridengine "$SGE_SPOOL/execd"
chown sgeadmin: /run/gridengine "$SGE_SPOOL/execd"
execd_runs() { pgrep -x sge_execd >/dev/null; }
execd_runs || /etc/init.d/gridengine-exec start >/dev/null 2>&1 || true
wait_until 30 execd_runs || timed_out "sge_execd did not start on $sge_host"
gpus=0
if command -v nvidia-smi >/dev/null; then
  gpus=$(nvidia-smi -L 2>/dev/null | grep -c '^GPU' || true)
fi
echo "sge-exec $(nproc) ${gpus:-0}"

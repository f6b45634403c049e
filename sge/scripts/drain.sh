# shellcheck shell=bash
# On the master: disable the queue instances of sge_hosts and print, for each in order,
# `running-jobs COUNT` (a qstat that fails must not read as "no jobs": the node would go busy).
sge_hosts=()
input_lines sge_hosts sge_hosts
for h in "${sge_hosts[@]}"; do
  qmod -d "all.q@$h" >/dev/null 2>&1 || true
  jobs=$(qstat -u '*' -s rs -q "all.q@$h") \
    || { echo "qstat failed: cannot tell whether jobs run on $h" >&2; exit 12; }
  echo "running-jobs $(printf '%s\n' "$jobs" | tail -n +3 | grep -c . || true)"
done

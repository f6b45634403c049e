# shellcheck shell=bash
# On the master: disable the queue instances of sge_hosts and print, for each in order,
# `running-jobs COUNT` (a qstat that fails must not read as "no jobs": the node would go busy).
# A host that is not an execution host of SGE (it never joined, or left) runs no job: 0.
sge_hosts=()
input_lines sge_hosts sge_hosts
if ! exec_hosts=$(qconf -sel 2>&1); then
  case $exec_hosts in
    *"no execution host defined"*) exec_hosts="" ;;
    *) echo "qconf -sel failed: cannot tell which hosts SGE knows" >&2; exit 12 ;;
  esac
fi
for h in "${sge_hosts[@]}"; do
  if ! printf '%s\n' "$exec_hosts" | grep -qxF -- "$h"; then
    echo "running-jobs 0"
    continue
  fi
  qmod -d "all.q@$h" >/dev/null 2>&1 || true
  jobs=$(qstat -u '*' -s rs -q "all.q@$h") \
    || { echo "qstat failed: cannot tell whether jobs run on $h" >&2; exit 12; }
  echo "running-jobs $(printf '%s\n' "$jobs" | tail -n +3 | grep -c . || true)"
done

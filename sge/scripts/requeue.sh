# shellcheck shell=bash
# On the master: sge_hosts take no new job, and the jobs running there go back to the queue
# (`qmod -f -rq`: rescheduled, also from a host whose execd no longer answers). Nothing is
# deleted: the jobs run again elsewhere.
sge_hosts=()
input_lines sge_hosts sge_hosts
qmod -d "$(sge_instances "${sge_hosts[@]}")" >/dev/null 2>&1 || true
for h in "${sge_hosts[@]}"; do
  qmod -f -rq "all.q@$h" >/dev/null 2>&1 || true
done
echo requeued

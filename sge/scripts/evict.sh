# shellcheck shell=bash
# On the master (--force): reschedule the jobs of sge_hosts elsewhere (back to the queue, not
# lost); what cannot be moved within 20 s is deleted, so the hosts can leave SGE.
sge_hosts=()
input_lines sge_hosts sge_hosts
jobs_on() { qstat -u '*' -s rs -q "all.q@$1" 2>/dev/null | awk 'NR>2 {print $1}'; }
no_jobs_on() { [ -z "$(jobs_on "$1")" ]; }
for h in "${sge_hosts[@]}"; do
  qmod -f -rq "all.q@$h" >/dev/null 2>&1 || true
  for _ in $(seq 100); do no_jobs_on "$h" && break; sleep 0.2; done
  mapfile -t left < <(jobs_on "$h")
  [ "${#left[@]}" -eq 0 ] || qdel -f "${left[@]}" >/dev/null 2>&1 || true
  for _ in $(seq 50); do no_jobs_on "$h" && break; sleep 0.2; done
done

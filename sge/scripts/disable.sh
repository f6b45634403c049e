# shellcheck shell=bash
# On the master: no new job lands on sge_hosts; with sge_settle, wait that long (a scheduler
# run already under way may still dispatch) before the stats step that follows.
sge_hosts=()
input_lines sge_hosts sge_hosts
qmod -d "$(sge_instances "${sge_hosts[@]}")" >/dev/null 2>&1 || true
if has_input sge_settle; then
  sleep "$(input sge_settle)"
fi

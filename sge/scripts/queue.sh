# shellcheck shell=bash
# On the master: wait for every exec host, then write @allhosts, the parallel environments,
# all.q, the gpu consumable and the fill-up scheduler whole. Queue instance states stay as
# they are, except that hosts new to the queue and the ones in sge_enable take jobs; hosts in
# sge_remove are forgotten.
# Inputs: sge_hosts (exec hosts), sge_gpus ("host count" lines), sge_allhosts, sge_queue,
# sge_pe_names and sge_pe_NAME (qconf files), sge_enable, sge_remove (optional lists).
sge_hosts=() sge_gpus=() sge_pe_names=() sge_enable=() sge_remove=()
input_lines sge_hosts sge_hosts
input_lines sge_pe_names sge_pe_names
! has_input sge_gpus || input_lines sge_gpus sge_gpus
! has_input sge_enable || input_lines sge_enable sge_enable
! has_input sge_remove || input_lines sge_remove sge_remove
work=$(mktemp -d)

# Every qconf is a round trip to the qmaster (~0.1 s): one query per poll for all hosts, and
# per-host calls only where a host differs from the default (GPUs).
missing=""
registered() {
  local sel h
  sel=$(qconf -sel 2>/dev/null || true)
  missing=""
  for h in "${sge_hosts[@]}"; do
    printf '%s\n' "$sel" | grep -qxF -- "$h" || missing="$missing $h"
  done
  [ -z "$missing" ]
}
wait_until 60 registered || timed_out "exec hosts did not register:$missing"

# Hosts not yet in the queue: new queue instances, to enable below.
in_queue=$(qconf -shgrp_resolved @allhosts 2>/dev/null | tr ' ' '\n' || true)
for h in "${sge_hosts[@]}"; do
  printf '%s\n' "$in_queue" | grep -qxF -- "$h" || sge_enable+=("$h")
done

qconf -sc > "$work/complexes"
if ! grep -q '^gpu ' "$work/complexes"; then
  echo 'gpu gpu INT <= YES YES 0 0' >> "$work/complexes"
  qconf -Mc "$work/complexes" >/dev/null
fi
# A host without a gpu value has none: jobs asking for `-l gpu=1` never land there.
for line in "${sge_gpus[@]}"; do
  read -r host count <<< "$line"
  qconf -mattr exechost complex_values "gpu=$count" "$host" >/dev/null
done

# sge_apply KIND SHOW NAME FILE: `qconf -M<KIND>` if NAME exists, else `qconf -A<KIND>`.
sge_apply() {
  if qconf "$2" "$3" >/dev/null 2>&1; then
    qconf "-M$1" "$4" >/dev/null || exit 9
  else
    qconf "-A$1" "$4" >/dev/null || exit 9
  fi
}
sge_apply hgrp -shgrp @allhosts "$SCLUST_INPUT/sge_allhosts"
for pe in "${sge_pe_names[@]}"; do
  sge_apply p -sp "$pe" "$SCLUST_INPUT/sge_pe_$pe"
done
sge_apply q -sq all.q "$SCLUST_INPUT/sge_queue"
for h in "${sge_remove[@]}"; do
  qconf -ke "$h" >/dev/null 2>&1 || true
  qconf -de "$h" >/dev/null 2>&1 || true
  qconf -dh "$h" >/dev/null 2>&1 || true
  qconf -ds "$h" >/dev/null 2>&1 || true
done

# Fill hosts up by slots (not spread by load) so idle nodes appear and can be removed.
qconf -ssconf > "$work/sched"
sed -i -e 's/^schedule_interval .*/schedule_interval 0:0:2/' \
  -e 's/^queue_sort_method .*/queue_sort_method load/' \
  -e 's/^load_formula .*/load_formula slots/' \
  -e 's/^job_load_adjustments .*/job_load_adjustments NONE/' \
  -e 's/^load_adjustment_decay_time .*/load_adjustment_decay_time 0:0:0/' "$work/sched"
qconf -Msconf "$work/sched" >/dev/null
rm -rf "$work"

if [ "${#sge_enable[@]}" -gt 0 ]; then
  qmod -e "$(sge_instances "${sge_enable[@]}")" >/dev/null 2>&1 || true
fi
# A queue put in error by an earlier failed setup would refuse every job (clears E only).
qmod -c all.q >/dev/null 2>&1 || true
qhost >/dev/null

# shellcheck shell=bash
# On the master: the queue instances of sge_hosts take jobs again.
sge_hosts=()
input_lines sge_hosts sge_hosts
qmod -e "$(sge_instances "${sge_hosts[@]}")" >/dev/null 2>&1 || true

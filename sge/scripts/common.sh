# shellcheck shell=bash
# Grid Engine (Debian's gridengine 8.1.9 layout): the environment and helpers every SGE step
# uses. Sourced first in any phase with SGE steps.
export SGE_ROOT=/var/lib/gridengine SGE_CELL=default
# shellcheck disable=SC2034  # read by the steps sourced after this one
SGE_SPOOL=/var/spool/gridengine
# shellcheck disable=SC2034
SGE_CELL_DIR=$SGE_ROOT/$SGE_CELL

# wait_until SECONDS COMMAND...: poll COMMAND every 0.2 s; false if it still fails after SECONDS.
wait_until() {
  local seconds=$1 i
  shift
  for ((i = 0; i < seconds * 5; i++)); do
    "$@" && return 0
    sleep 0.2
  done
  "$@"
}

timed_out() { echo "timed out: $*" >&2; exit 6; }

# sge_install PROBE "APT PACKAGES" "YUM PACKAGES": install Grid Engine unless PROBE is there.
sge_install() {
  local probe=$1 apt=$2 yum=$3
  command -v "$probe" >/dev/null 2>&1 && return 0
  if command -v apt-get >/dev/null; then
    export DEBIAN_FRONTEND=noninteractive
    # shellcheck disable=SC2086  # word lists of package names
    apt-get update -qq && apt-get install -y -qq $apt >/dev/null
  elif command -v yum >/dev/null; then
    # shellcheck disable=SC2086
    yum install -y -q $yum >/dev/null
  fi
  command -v "$probe" >/dev/null || { echo "cannot install Grid Engine ($apt)" >&2; exit 5; }
}

# sge_instances HOST...: the all.q queue instances of HOSTS, comma-separated.
sge_instances() {
  local host list=""
  for host in "$@"; do list="$list${list:+,}all.q@$host"; done
  printf '%s\n' "$list"
}

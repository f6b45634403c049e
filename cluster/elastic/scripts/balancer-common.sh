# shellcheck shell=bash
# The balancer service's places, and its supervisor for hosts without systemd (the local
# cloud's): a bash loop in its own session restarts `run` (10 s apart), its pid in
# $RUNDIR/pid; `stop` writes $ETC/stopped (the loop ends) and sends SIGINT (the balancer lets
# a change under way end), then SIGTERM to what is left after 600 s.
# shellcheck disable=SC2034  # read by the steps sourced after this one
LIB=/opt/sclust-balancer ETC=/etc/sclust-balancer LOG=/var/log/sclust-balancer.log
balancer_supervisor() {
  cat <<'SUPERVISOR'
#!/bin/bash
# sclust-balancer start|stop|restart|status (written by sclust; see balancer-common.sh)
set -u
LIB=/opt/sclust-balancer ETC=/etc/sclust-balancer LOG=/var/log/sclust-balancer.log
RUNDIR=/run/sclust-balancer
pid() { local p; p=$(cat "$RUNDIR/pid" 2>/dev/null) && kill -0 "$p" 2>/dev/null && echo "$p"; }
start() {
  [ -e "$ETC/stopped" ] && rm -f "$ETC/stopped"
  if [ -n "$(pid)" ]; then return 0; fi
  mkdir -p "$RUNDIR"
  # Keep the log bounded: the last 10,000 lines survive a start.
  if [ -f "$LOG" ] && [ "$(wc -l < "$LOG")" -gt 20000 ]; then
    tail -n 10000 "$LOG" > "$LOG.new" && mv -f "$LOG.new" "$LOG"
  fi
  setsid bash -c 'while [ ! -e "$1/stopped" ]; do
      echo "$(date "+%F %T") sclust-balancer: starting" >> "$2"
      "$3/run" >> "$2" 2>&1 < /dev/null
      echo "$(date "+%F %T") sclust-balancer: ended ($?)" >> "$2"
      [ -e "$1/stopped" ] || sleep 10
    done' sclust-balancer "$ETC" "$LOG" "$LIB" > /dev/null 2>&1 < /dev/null &
  echo $! > "$RUNDIR/pid"
}
stop() {
  touch "$ETC/stopped"
  local p
  p=$(pid) || return 0
  kill -INT -- "-$p" 2>/dev/null || true  # its session: the loop and the balancer it runs
  for _ in $(seq 600); do kill -0 "$p" 2>/dev/null || break; sleep 1; done
  kill -TERM -- "-$p" 2>/dev/null || true
  rm -f "$RUNDIR/pid"
}
case "${1:-}" in
  start) start ;;
  stop) stop ;;
  restart) stop; start ;;
  status) if p=$(pid); then echo "running $p"; else echo "stopped"; fi ;;
  *) echo "usage: $0 start|stop|restart|status" >&2; exit 2 ;;
esac
SUPERVISOR
}

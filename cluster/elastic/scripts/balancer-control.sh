# shellcheck shell=bash
# On the master: balancer_action (status, logs, stop) on the balancer service. Prints
# `balancer-state STATE` (running, stopped, absent), then for logs the last balancer_lines
# lines of its log.
action=$(input balancer_action)
if [ ! -x "$LIB/sclust-balancer" ]; then
  echo "balancer-state absent"
  exit 0
fi
systemd=""
if [ -d /run/systemd/system ] && [ -e /etc/systemd/system/sclust-balancer.service ]; then
  systemd=1
fi
case $action in
  stop)
    if [ -n "$systemd" ]; then
      systemctl disable --now sclust-balancer.service >/dev/null 2>&1 || true
    else
      "$LIB/sclust-balancer" stop
    fi ;;
esac
if [ -n "$systemd" ]; then
  if systemctl is-active --quiet sclust-balancer.service; then state=running; else state=stopped; fi
else
  state=$("$LIB/sclust-balancer" status | cut -d' ' -f1)
fi
echo "balancer-state $state"
if [ "$action" = logs ]; then
  tail -n "$(input balancer_lines)" "$LOG" 2>/dev/null || true
elif [ "$action" = status ]; then
  echo "balancer-version $("$LIB/venv/bin/sclust" --version 2>/dev/null | awk '{print $NF}')"
  echo "balancer-args $(tr '\n' ' ' < "$ETC/args")"
  echo "balancer-last $(grep -v 'sclust-balancer:' "$LOG" 2>/dev/null | tail -n 1)"
fi

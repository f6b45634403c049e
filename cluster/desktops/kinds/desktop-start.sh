# shellcheck shell=bash
# The last step of every desktop kind's setup: the auto-stop timer, then the kind's DAEMONS
# started (or restarted when their files CHANGED) by systemd or, where systemd is not PID 1,
# by the sclust-desktop supervisor that rc.local starts at boot; waits for WAIT_PORTS and
# prints the report lines every kind shares. Uses what desktop-base.sh and the kind set.

# --- auto-stop: power off daily at AUTO_STOP in TZONE (EC2 stops an instance that does) -----
if [ -n "$AUTO_STOP" ]; then
  put "$ETC/autostop.env" 644 root:root autostop < <(vars AUTO_STOP TZONE)
else
  rm -f "$ETC/autostop.env"
fi
put "$LIB/run-autostop" 755 root:root autostop <<'PROGRAM'
#!/bin/bash
# Powers the desktop off at AUTO_STOP (HH:MM) in TZONE, every day (the cron-like fallback
# where systemd is not PID 1). An instance-initiated shutdown stops the instance on EC2.
set -eu
. /etc/sclust-desktop/autostop.env
next_stop() {
  local now t; now=$(date +%s)
  t=$(TZ=$TZONE date -d "today $AUTO_STOP" +%s)
  [ "$t" -gt "$now" ] || t=$(TZ=$TZONE date -d "tomorrow $AUTO_STOP" +%s)
  echo "$t"
}
target=$(next_stop)
echo "$(date -Is) auto-stop at $(TZ=$TZONE date -d "@$target" -Is)"
while :; do
  now=$(date +%s)
  if [ "$now" -ge "$target" ]; then
    echo "$(date -Is) auto-stop: powering off"
    poweroff || shutdown -h now
    sleep 60; target=$(next_stop); continue
  fi
  left=$((target - now)); sleep $((left < 30 ? left : 30))
done
PROGRAM
# --- idle stop: power off once no client used the desktop's pages for IDLE_STOP seconds -----
if [ -n "$IDLE_STOP" ]; then
  if ! have ss; then say "installing iproute2 (ss)"; install_packages iproute2 -- iproute; fi
  # shellcheck disable=SC2034  # written by vars
  CLIENT_PORTS_LIST="${CLIENT_PORTS[*]}"
  put "$ETC/idlestop.env" 644 root:root idlestop < <(vars IDLE_STOP CLIENT_PORTS_LIST)
  put "$LIB/run-idlestop" 755 root:root idlestop <<'PROGRAM'
#!/bin/bash
# Powers the desktop off when no client (a browser on noVNC or JupyterLab: an open page keeps
# its websocket) has been connected to CLIENT_PORTS_LIST for IDLE_STOP seconds. An
# instance-initiated shutdown stops the instance on EC2; `sclust desktops start` resumes it.
set -eu
. /etc/sclust-desktop/idlestop.env
filter=""
for port in $CLIENT_PORTS_LIST; do filter+="${filter:+ or }sport = :$port"; done
connected() { [ -n "$(ss -Htn state established "( $filter )" 2>/dev/null)" ]; }
last=$(date +%s)
echo "$(date -Is) idle-stop after ${IDLE_STOP}s without a client on port(s) $CLIENT_PORTS_LIST"
while :; do
  now=$(date +%s)
  if connected; then
    last=$now
  elif [ $((now - last)) -ge "$IDLE_STOP" ]; then
    echo "$(date -Is) idle-stop: no client for ${IDLE_STOP}s: powering off"
    poweroff || shutdown -h now
    sleep 60; last=$(date +%s)
  fi
  sleep 10
done
PROGRAM
  daemon idlestop "power off after $IDLE_STOP s without a client" ""
elif [ -e "$ETC/idlestop.env" ]; then  # IDLE_STOP was on: off now
  rm -f "$ETC/idlestop.env"
  if systemd_runs; then
    systemctl disable --now sclust-desktop-idlestop.service >/dev/null 2>&1 || true
    rm -f "$UNITS/sclust-desktop-idlestop.service"
  else
    CHANGED+=(idlestop)  # the supervisor stops it, and no longer starts it
  fi
fi

# The daemons, in start order, for the supervisor (and `sclust-desktop status`): those set up
# before (a master may get noVNC and JupyterLab from two plugins) and then this run's.
known=()
# (idlestop is this run's to declare: it goes when IDLE_STOP does)
if [ -s "$ETC/daemons" ]; then mapfile -t known < <(grep -vx idlestop "$ETC/daemons"); fi
put "$ETC/daemons" 644 root:root < <(printf '%s\n' "${known[@]}" "${DAEMONS[@]}" | awk 'NF && !seen[$0]++')
put "$LIB/sclust-desktop" 755 root:root <<'PROGRAM'
#!/bin/bash
# sclust-desktop start|restart NAME...|stop|status: the desktop's daemons where systemd is
# not PID 1. Each runs in its own session under a respawn loop; its pid file is the loop's.
set -eu
RUN=/run/sclust-desktop LIB=/usr/local/lib/sclust-desktop LOG=/var/log/sclust-desktop
ETC=/etc/sclust-desktop
mkdir -p "$RUN" "$LOG"
daemons() { cat "$ETC/daemons"; [ ! -e "$ETC/autostop.env" ] || echo autostop; }
alive() { local pid; pid=$(cat "$RUN/$1.pid" 2>/dev/null) && kill -0 "$pid" 2>/dev/null; }
start_one() {
  alive "$1" && return 0
  setsid bash -c 'while :; do "$0"; sleep 2; done' "$LIB/run-$1" \
    </dev/null >>"$LOG/$1.log" 2>&1 &
  echo $! > "$RUN/$1.pid"
}
stop_one() {
  local pid; pid=$(cat "$RUN/$1.pid" 2>/dev/null) || return 0
  kill -TERM -- "-$pid" 2>/dev/null || true
  for _ in $(seq 50); do kill -0 -- "-$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL -- "-$pid" 2>/dev/null || true
  rm -f "$RUN/$1.pid"
}
case "${1:-}" in
  start) for d in $(daemons); do start_one "$d"; done
         [ -e "$ETC/autostop.env" ] || stop_one autostop ;;
  restart) shift; for d in "$@"; do stop_one "$d"; done
           for d in "$@"; do if daemons | grep -qx "$d"; then start_one "$d"; fi; done ;;
  stop) for d in autostop $(daemons | tac); do stop_one "$d"; done ;;
  status) for d in $(daemons); do
            if alive "$d"; then echo "$d running"; else echo "$d stopped"; fi; done ;;
  *) echo "usage: $0 start|restart NAME...|stop|status" >&2; exit 2 ;;
esac
PROGRAM

# --- start (or restart what changed) -------------------------------------------------------
restart=()
if [ ${#CHANGED[@]} -gt 0 ]; then mapfile -t restart < <(printf '%s\n' "${CHANGED[@]}" | sort -u); fi
if systemd_runs; then
  services=()
  for d in "${DAEMONS[@]}"; do services+=("sclust-desktop-$d.service"); done
  if [ -n "$AUTO_STOP" ]; then
    put "$UNITS/sclust-desktop-autostop.service" 644 root:root <<'UNIT'
[Unit]
Description=sclust desktop: auto-stop (power off; the instance stops)
[Service]
Type=oneshot
ExecStart=/bin/systemctl poweroff
UNIT
    put "$UNITS/sclust-desktop-autostop.timer" 644 root:root autostop <<UNIT
[Unit]
Description=sclust desktop: power off at $AUTO_STOP $TZONE
[Timer]
OnCalendar=*-*-* $AUTO_STOP:00 $TZONE
AccuracySec=1s
[Install]
WantedBy=timers.target
UNIT
    services+=(sclust-desktop-autostop.timer)
  else
    systemctl disable --now sclust-desktop-autostop.timer >/dev/null 2>&1 || true
    rm -f "$UNITS"/sclust-desktop-autostop.*
  fi
  systemctl daemon-reload
  # What runs with old settings restarts; what does not run yet just starts.
  for d in "${restart[@]}"; do
    if [ "$d" = autostop ]; then d=autostop.timer; else d=$d.service; fi
    if [ -e "$UNITS/sclust-desktop-$d" ]; then systemctl try-restart "sclust-desktop-$d"; fi
  done
  systemctl enable --now "${services[@]}" >/dev/null
else
  # No systemd (the local cloud): the supervisor, started again at every boot by rc.local.
  if [ ! -e /etc/rc.local ]; then printf '#!/bin/sh -e\n\nexit 0\n' > /etc/rc.local; fi
  if ! grep -q "$LIB/sclust-desktop start" /etc/rc.local; then
    # Before the first `exit 0` (Debian's template ends with one), else at the end.
    awk -v line="$LIB/sclust-desktop start || true" \
      '!done && /^exit 0/ {print line; done=1} {print} END {if (!done) print line}' \
      /etc/rc.local > /etc/rc.local.sclust && cat /etc/rc.local.sclust > /etc/rc.local
    rm -f /etc/rc.local.sclust
  fi
  chmod 755 /etc/rc.local
  if [ ${#restart[@]} -gt 0 ]; then "$LIB/sclust-desktop" restart "${restart[@]}"; fi
  "$LIB/sclust-desktop" start
fi

# --- wait until the kind's ports answer, then report ---------------------------------------
listening() { timeout 1 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null; }
all_listening() { local p; for p in "${WAIT_PORTS[@]}"; do listening "$p" || return 1; done; }
for _ in $(seq 150); do
  if all_listening; then break; fi
  sleep 0.2
done
if ! all_listening; then
  say "the desktop's ports (${WAIT_PORTS[*]}) do not all answer"
  tail -n 5 "$LOG"/*.log >&2 2>/dev/null || journalctl -n 20 -u 'sclust-desktop-*' >&2 || true
  exit 1
fi
echo "desktop-user $DESKTOP_USER"
if [ -n "$AUTO_STOP" ]; then
  echo "auto-stop $AUTO_STOP $TZONE"
else
  echo "auto-stop off"
fi
if have nvidia-smi && gpus=$(nvidia-smi -L 2>/dev/null | grep -c '^GPU '); then
  echo "gpu $gpus"
else
  echo "gpu none"
fi

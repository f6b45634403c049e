"""The bash that makes a host a desktop (rendered by `vnc.desktop_setup_script`).

Layout on the desktop:
  /etc/sclust-desktop/            settings, one env file per daemon (a changed file restarts
                                  only that daemon), vncpasswd (root:USER 0640), TLS key+cert
  /usr/local/lib/sclust-desktop/  run-vnc, run-session, run-novnc, run-autostop (each drops
                                  to its user itself) and `sclust-desktop` (a supervisor for
                                  hosts without systemd, started from /etc/rc.local at boot)
  /var/log/sclust-desktop/        the daemons' logs (without systemd)
"""

from __future__ import annotations

# Runs as root with `bash -s` (fed on stdin: the password never is in a command line).
# The header rendered by vnc.py sets DESKTOP_USER NOVNC_PORT AUTO_STOP TZONE DESKTOP_NAME
# and VNC_PASSWD_B64 (the VNC password file, base64).
BODY = r"""
set -euo pipefail
umask 022
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LC_ALL=C
ETC=/etc/sclust-desktop LIB=/usr/local/lib/sclust-desktop LOG=/var/log/sclust-desktop
RFB_PORT=5901
have() { command -v "$1" >/dev/null 2>&1; }
say() { echo "sclust-desktop: $*" >&2; }
first_of() { local c; for c in "$@"; do if have "$c"; then command -v "$c"; return; fi; done; }
find_xvnc() { first_of Xtigervnc Xvnc; }
find_session() {
  first_of startxfce4 mate-session startlxde startlxqt icewm-session openbox-session
}

# --- software: install only what the image lacks ------------------------------------------
missing=()
[ -n "$(find_xvnc)" ] || missing+=(vnc)
have websockify || missing+=(websockify)
[ -e /usr/share/novnc/vnc.html ] || missing+=(novnc)
[ -n "$(find_session)" ] || missing+=(desktop)
have openssl || missing+=(openssl)
have setpriv || missing+=(setpriv)
if [ ${#missing[@]} -gt 0 ]; then
  say "installing ${missing[*]}"
  if have apt-get; then
    declare -A pkg=([vnc]=tigervnc-standalone-server [websockify]=websockify [novnc]=novnc
                    [desktop]="icewm xterm" [openssl]=openssl [setpriv]=util-linux)
    names=""; for m in "${missing[@]}"; do names+=" ${pkg[$m]}"; done
    export DEBIAN_FRONTEND=noninteractive
    # At first boot cloud-init or unattended-upgrades may hold dpkg's lock for minutes.
    apt-get -o DPkg::Lock::Timeout=600 -qq update >&2
    # shellcheck disable=SC2086
    apt-get -o DPkg::Lock::Timeout=600 -qq -y install --no-install-recommends $names >&2
  elif have dnf; then
    declare -A pkg=([vnc]=tigervnc-server [websockify]=python3-websockify [novnc]=novnc
                    [desktop]="icewm xterm" [openssl]=openssl [setpriv]=util-linux)
    names=""; for m in "${missing[@]}"; do names+=" ${pkg[$m]}"; done
    # shellcheck disable=SC2086
    dnf -q -y install $names >&2
  else
    say "cannot install ${missing[*]}: this image has neither apt-get nor dnf"; exit 3
  fi
fi
XVNC=$(find_xvnc) SESSION=$(find_session) WEBSOCKIFY=$(first_of websockify)
[ -n "$XVNC" ] && [ -n "$SESSION" ] && [ -n "$WEBSOCKIFY" ] \
  || { say "VNC server, desktop session or websockify still missing"; exit 3; }
if [ -n "$AUTO_STOP" ] && [ ! -e "/usr/share/zoneinfo/$TZONE" ]; then
  say "unknown time zone $TZONE (no /usr/share/zoneinfo/$TZONE)"; exit 3
fi

# --- accounts: the student's session user, and an unprivileged user for noVNC ---------------
NOLOGIN=$(first_of nologin); NOLOGIN=${NOLOGIN:-/bin/false}
id -u "$DESKTOP_USER" >/dev/null 2>&1 || useradd -m -s /bin/bash -c "desktop" "$DESKTOP_USER"
id -u sclust-novnc >/dev/null 2>&1 \
  || useradd -r -M -d /nonexistent -s "$NOLOGIN" -c "sclust noVNC" sclust-novnc
install -d -m 755 "$ETC" "$LIB" "$LOG"

# --- files: written only when different; a changed one restarts its daemon ------------------
changed=()
put() {  # put PATH MODE OWNER [DAEMON] < content
  local path=$1 mode=$2 owner=$3 daemon=${4:-} tmp
  tmp=$(mktemp "$(dirname "$path")/.new.XXXXXX")  # 0600 until chmod: safe for secrets
  cat > "$tmp"; chmod "$mode" "$tmp"; chown "$owner" "$tmp"
  if [ -e "$path" ] && cmp -s "$tmp" "$path" \
      && [ "$(stat -c %a:%U:%G "$tmp")" = "$(stat -c %a:%U:%G "$path")" ]; then
    rm -f "$tmp"; return 0
  fi
  mv -f "$tmp" "$path"
  if [ -n "$daemon" ]; then changed+=("$daemon"); fi
}
vars() { local v; for v in "$@"; do printf '%s=%q\n' "$v" "${!v}"; done; }

# The VNC server reads this file at every connection: a new password needs no restart.
put "$ETC/vncpasswd" 640 "root:$DESKTOP_USER" < <(printf %s "$VNC_PASSWD_B64" | base64 -d)
put "$ETC/vnc.env" 644 root:root vnc < <(vars DESKTOP_USER XVNC DESKTOP_NAME RFB_PORT)
put "$ETC/session.env" 644 root:root session < <(vars DESKTOP_USER SESSION)
put "$ETC/novnc.env" 644 root:root novnc < <(vars NOVNC_PORT WEBSOCKIFY RFB_PORT)
if [ -n "$AUTO_STOP" ]; then
  put "$ETC/autostop.env" 644 root:root autostop < <(vars AUTO_STOP TZONE)
else
  rm -f "$ETC/autostop.env"
fi

# A certificate made on the desktop itself, once (browsers keep the exception across days).
if [ ! -s "$ETC/novnc.crt" ] || [ ! -s "$ETC/novnc.key" ]; then
  if [[ $DESKTOP_NAME =~ ^[0-9.]+$ ]]; then san="IP:$DESKTOP_NAME"; else san="DNS:$DESKTOP_NAME"; fi
  (umask 077; openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
     -days 825 -subj "/CN=$DESKTOP_NAME" -addext "subjectAltName=$san" \
     -keyout "$ETC/novnc.key" -out "$ETC/novnc.crt" 2>/dev/null)
  chown root:sclust-novnc "$ETC/novnc.key"; chmod 640 "$ETC/novnc.key"; chmod 644 "$ETC/novnc.crt"
  changed+=(novnc)
fi

# --- the daemons' programs (the same under systemd and under the supervisor) ----------------
as_user() {  # the lines a run script uses to drop to USER with a clean environment
  cat <<'EOF'
home=$(getent passwd "$RUN_AS" | cut -d: -f6)
drop=(env -i PATH=/usr/local/bin:/usr/bin:/bin HOME="$home" USER="$RUN_AS" LOGNAME="$RUN_AS"
      SHELL=/bin/bash LANG=C.UTF-8 setpriv --reuid="$RUN_AS" --regid="$RUN_AS" --init-groups --)
EOF
}
put "$LIB/run-vnc" 755 root:root vnc <<EOF
#!/bin/bash
# X display :1 with a VNC server on 127.0.0.1 only: the outside reaches it through noVNC's TLS.
# Every noVNC client arrives from 127.0.0.1, so TigerVNC's per-address blacklist (5 attempts
# without a login) would let any stranger lock the student out: it is off. Guessing one of
# 56^8 passwords through TLS and websockify, tens of tries a second, takes millennia.
set -eu
. $ETC/vnc.env
RUN_AS=\$DESKTOP_USER
$(as_user)
install -d -m 1777 /tmp/.X11-unix
cd "\$home"
exec "\${drop[@]}" "\$XVNC" :1 -localhost -interface 127.0.0.1 -rfbport "\$RFB_PORT" \\
  -SecurityTypes VncAuth -PasswordFile $ETC/vncpasswd -desktop "\$DESKTOP_NAME" \\
  -geometry 1600x900 -depth 24 -AlwaysShared -s 0 -dpms -BlacklistThreshold 1000000000
EOF
put "$LIB/run-session" 755 root:root session <<EOF
#!/bin/bash
# The desktop session on display :1, as the student (screen saver off: it upsets VNC viewers).
set -eu
. $ETC/session.env
RUN_AS=\$DESKTOP_USER
$(as_user)
for _ in \$(seq 100); do [ -S /tmp/.X11-unix/X1 ] && break; sleep 0.1; done
cd "\$home"
launch=("\$SESSION")
if command -v dbus-launch >/dev/null; then launch=(dbus-launch --exit-with-session "\$SESSION"); fi
exec "\${drop[@]}" env DISPLAY=:1 "\${launch[@]}"
EOF
put "$LIB/run-novnc" 755 root:root novnc <<EOF
#!/bin/bash
# noVNC's page and websocket over HTTPS only, as an unprivileged user (allowed to bind < 1024).
set -eu
. $ETC/novnc.env
RUN_AS=sclust-novnc
$(as_user)
caps=(--inh-caps=+net_bind_service --ambient-caps=+net_bind_service)
drop=("\${drop[@]:0:\${#drop[@]}-1}" "\${caps[@]}" --)
cd /
exec "\${drop[@]}" "\$WEBSOCKIFY" --web /usr/share/novnc --cert $ETC/novnc.crt \\
  --key $ETC/novnc.key --ssl-only "0.0.0.0:\$NOVNC_PORT" "127.0.0.1:\$RFB_PORT"
EOF
put "$LIB/run-autostop" 755 root:root autostop <<'EOF'
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
EOF
put "$LIB/sclust-desktop" 755 root:root <<'EOF'
#!/bin/bash
# sclust-desktop start|restart NAME...|stop|status: the desktop's daemons where systemd is
# not PID 1. Each runs in its own session under a respawn loop; its pid file is the loop's.
set -eu
RUN=/run/sclust-desktop LIB=/usr/local/lib/sclust-desktop LOG=/var/log/sclust-desktop
mkdir -p "$RUN" "$LOG"
daemons() { echo vnc session novnc; [ ! -e /etc/sclust-desktop/autostop.env ] || echo autostop; }
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
         [ -e /etc/sclust-desktop/autostop.env ] || stop_one autostop ;;
  restart) shift; for d in "$@"; do stop_one "$d"; done
           for d in "$@"; do if daemons | grep -qx "$d"; then start_one "$d"; fi; done ;;
  stop) for d in autostop novnc session vnc; do stop_one "$d"; done ;;
  status) for d in $(daemons); do
            if alive "$d"; then echo "$d running"; else echo "$d stopped"; fi; done ;;
  *) echo "usage: $0 start|restart NAME...|stop|status" >&2; exit 2 ;;
esac
EOF

# --- start (or restart what changed) -------------------------------------------------------
UNITS=/etc/systemd/system
if [ -d /run/systemd/system ]; then
  unit() {  # unit NAME DESCRIPTION EXTRA-[Unit]-LINES
    put "$UNITS/sclust-desktop-$1.service" 644 root:root "$1" <<EOF
[Unit]
Description=sclust desktop: $2
After=network.target $3
[Service]
ExecStart=$LIB/run-$1
Restart=always
RestartSec=2
[Install]
WantedBy=multi-user.target
EOF
  }
  unit vnc "VNC server on display :1 (localhost only)" ""
  unit session "desktop session of $DESKTOP_USER" "sclust-desktop-vnc.service"
  unit novnc "noVNC over HTTPS on port $NOVNC_PORT" ""
  services=(sclust-desktop-vnc.service sclust-desktop-session.service sclust-desktop-novnc.service)
  if [ -n "$AUTO_STOP" ]; then
    put "$UNITS/sclust-desktop-autostop.service" 644 root:root <<'EOF'
[Unit]
Description=sclust desktop: auto-stop (power off; the instance stops)
[Service]
Type=oneshot
ExecStart=/bin/systemctl poweroff
EOF
    put "$UNITS/sclust-desktop-autostop.timer" 644 root:root autostop <<EOF
[Unit]
Description=sclust desktop: power off at $AUTO_STOP $TZONE
[Timer]
OnCalendar=*-*-* $AUTO_STOP:00 $TZONE
AccuracySec=1s
[Install]
WantedBy=timers.target
EOF
    services+=(sclust-desktop-autostop.timer)
  else
    systemctl disable --now sclust-desktop-autostop.timer >/dev/null 2>&1 || true
    rm -f "$UNITS"/sclust-desktop-autostop.*
  fi
  systemctl daemon-reload
  # What runs with old settings restarts; what does not run yet just starts.
  for d in $(printf '%s\n' "${changed[@]}" | sort -u); do
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
  if [ ${#changed[@]} -gt 0 ]; then
    # shellcheck disable=SC2046
    "$LIB/sclust-desktop" restart $(printf '%s\n' "${changed[@]}" | sort -u)
  fi
  "$LIB/sclust-desktop" start
fi

# --- wait until VNC and noVNC answer, then report ------------------------------------------
listening() { timeout 1 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null; }
for _ in $(seq 150); do
  if listening "$RFB_PORT" && listening "$NOVNC_PORT"; then break; fi
  sleep 0.2
done
if ! listening "$RFB_PORT" || ! listening "$NOVNC_PORT"; then
  say "VNC (port $RFB_PORT) or noVNC (port $NOVNC_PORT) does not answer"
  tail -n 5 "$LOG"/*.log >&2 2>/dev/null || journalctl -n 20 -u 'sclust-desktop-*' >&2 || true
  exit 1
fi
echo "desktop-user $DESKTOP_USER"
echo "novnc-port $NOVNC_PORT"
echo "cert-sha256 $(openssl x509 -in "$ETC/novnc.crt" -noout -fingerprint -sha256 | cut -d= -f2)"
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
"""

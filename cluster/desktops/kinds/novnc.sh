# shellcheck shell=bash
# The noVNC kind's step (after desktop-base.sh, before desktop-start.sh): a VNC server on
# 127.0.0.1 with the student's session, and noVNC over HTTPS on PORT as an unprivileged user.
# Inputs: port, vnc_password_file (the 8-byte VNC password file, base64; never in clear),
# wallpaper_png and wallpaper_color (the desktop's number as a picture; absent on a master).
NOVNC_PORT=$(input port)
RFB_PORT=5901
find_xvnc() { first_of Xtigervnc Xvnc; }
find_session() {
  first_of startxfce4 mate-session startlxde startlxqt icewm-session openbox-session
}

# --- software: install only what the image lacks ------------------------------------------
apt=() dnf=()
if [ -z "$(find_xvnc)" ]; then apt+=(tigervnc-standalone-server); dnf+=(tigervnc-server); fi
if ! have websockify; then apt+=(websockify); dnf+=(python3-websockify); fi
if [ ! -e /usr/share/novnc/vnc.html ]; then apt+=(novnc); dnf+=(novnc); fi
if [ -z "$(find_session)" ]; then apt+=(icewm xterm); dnf+=(icewm xterm); fi
if [ ${#apt[@]} -gt 0 ]; then
  say "installing ${apt[*]}"
  install_packages "${apt[@]}" -- "${dnf[@]}"
fi
XVNC=$(find_xvnc) SESSION=$(find_session) WEBSOCKIFY=$(first_of websockify)
if [ -z "$XVNC" ] || [ -z "$SESSION" ] || [ -z "$WEBSOCKIFY" ]; then
  say "VNC server, desktop session or websockify still missing"; exit 3
fi

# --- accounts: an unprivileged user for noVNC ----------------------------------------------
NOLOGIN=$(first_of nologin); NOLOGIN=${NOLOGIN:-/bin/false}
id -u sclust-novnc >/dev/null 2>&1 \
  || useradd -r -M -d /nonexistent -s "$NOLOGIN" -c "sclust noVNC" sclust-novnc

# --- files: a changed one restarts its daemon ----------------------------------------------
# The VNC server reads this file at every connection: a new password needs no restart.
put "$ETC/vncpasswd" 640 "root:$DESKTOP_USER" < <(input vnc_password_file | base64 -d)
put "$ETC/vnc.env" 644 root:root vnc < <(vars DESKTOP_USER XVNC DESKTOP_NAME RFB_PORT)
put "$ETC/session.env" 644 root:root session < <(vars DESKTOP_USER SESSION)
put "$ETC/novnc.env" 644 root:root novnc < <(vars NOVNC_PORT WEBSOCKIFY RFB_PORT)
cert_for sclust-novnc novnc

# --- the desktop's number on its screen: the wallpaper and IceWM's taskbar ------------------
# In the system's IceWM settings (root's directory; a file in the student's home could be a
# symlink planted by the student).
if [ -n "$DESKTOP_LABEL" ] && has_input wallpaper_png; then
  put "$ETC/wallpaper.png" 644 root:root session < <(input wallpaper_png | base64 -d)
  WALLPAPER_COLOR=$(input wallpaper_color)
  icewm_etc=""
  if have icewm; then
    icewm_etc=$(grep -ao '/etc[A-Za-z0-9/]*/icewm' "$(command -v icewm)" | head -n 1 || true)
  fi
  if [ -n "$icewm_etc" ]; then
    install -d -m 755 "$icewm_etc"
    put "$icewm_etc/prefoverride" 644 root:root session <<PREFS
# sclust: desktop $DESKTOP_LABEL shows its number (taskbar and wallpaper)
WorkspaceNames="$DESKTOP_LABEL"
TaskBarShowWorkspaces=1
DesktopBackgroundColor="$WALLPAPER_COLOR"
DesktopBackgroundImage="$ETC/wallpaper.png"
DesktopBackgroundCenter=1
DesktopBackgroundScaled=0
PREFS
  fi
fi

# --- the daemons' programs (the same under systemd and under the supervisor) ----------------
put "$LIB/run-vnc" 755 root:root vnc <<PROGRAM
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
PROGRAM
put "$LIB/run-session" 755 root:root session <<PROGRAM
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
PROGRAM
put "$LIB/run-novnc" 755 root:root novnc <<PROGRAM
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
PROGRAM

daemon vnc "VNC server on display :1 (localhost only)" ""
daemon session "desktop session of $DESKTOP_USER" "sclust-desktop-vnc.service"
daemon novnc "noVNC over HTTPS on port $NOVNC_PORT" ""
WAIT_PORTS+=("$RFB_PORT" "$NOVNC_PORT")
CLIENT_PORTS+=("$NOVNC_PORT")
echo "port $NOVNC_PORT"
echo "cert-sha256 $(openssl x509 -in "$ETC/novnc.crt" -noout -fingerprint -sha256 | cut -d= -f2)"

# shellcheck shell=bash
# XvfbSetup: an Xvfb server on display :1 (started unless running) and DISPLAY=:1 for every
# login shell.
echo 'export DISPLAY=":1"' > /etc/profile.d/sclust-xvfb.sh
if ! pgrep -x Xvfb >/dev/null; then
  setsid nohup Xvfb :1 -screen 0 1024x768x16 >/var/log/sclust-xvfb.log 2>&1 < /dev/null &
  for _ in $(seq 50); do [ -e /tmp/.X11-unix/X1 ] && break; sleep 0.1; done
fi
pgrep -x Xvfb >/dev/null || { tail -5 /var/log/sclust-xvfb.log >&2; exit 1; }
echo "xvfb: display :1"

# shellcheck shell=bash
# On the master: install (or update) the load balancer as a service, and (re)start it.
# The operator's own sclust arrives as a wheel (balancer_wheel, base64; its name in
# balancer_wheel_name) and goes into a venv of its own; its dependencies come as wheels
# (balancer_deps, a base64 tar) when the operator could fetch them, else from the master's
# package index. The service runs `sclust -c $ETC/config loadbalance` with the
# arguments in balancer_args (one per line), as root, with AWS's default credential chain (on
# EC2: the instance role, from the metadata service). balancer_config is that config (no
# credentials in it), balancer_key the cluster's SSH key (a secret: 0600, root only).
# Under systemd a unit keeps it running; without (the local cloud's hosts) the supervisor of
# balancer-common.sh does, started again at every boot from /etc/rc.local.
install -d -m 755 "$LIB" "$LIB/wheels"
install -d -m 700 "$ETC"
wheel="$LIB/wheels/$(input balancer_wheel_name)"
rm -rf "$LIB/incoming"
install -d -m 700 "$LIB/incoming"
new="$LIB/incoming/$(input balancer_wheel_name)"  # pip wants a wheel's own file name
base64 -d "$SCLUST_INPUT/balancer_wheel" > "$new"
if [ ! -x "$LIB/venv/bin/python" ]; then
  python3 -m venv "$LIB/venv" >&2 || { echo "python3 -m venv failed on the master" >&2; exit 3; }
fi
# Dependencies: the wheels the operator sent (no index needed), else the master's index.
from=()
if [ -s "$SCLUST_INPUT/balancer_deps" ]; then
  rm -rf "$LIB/deps"
  install -d -m 755 "$LIB/deps"
  base64 -d "$SCLUST_INPUT/balancer_deps" | tar -x -C "$LIB/deps" --no-same-owner \
    || { echo "the dependency wheels did not unpack" >&2; exit 3; }
  from=(--no-index --find-links "$LIB/deps")
fi
if ! cmp -s "$new" "$LIB/installed.whl"; then
  # sclust itself always from the wheel, even at the same version.
  if ! { { "$LIB/venv/bin/pip" install -q "${from[@]}" "$new" >&2 \
           || { [ "${#from[@]}" -gt 0 ] && "$LIB/venv/bin/pip" install -q "$new" >&2; }; } \
         && "$LIB/venv/bin/pip" install -q --force-reinstall --no-deps "$new" >&2; }; then
    echo "pip could not install the balancer's sclust" >&2
    exit 3
  fi
  cp "$new" "$LIB/installed.whl"
fi
mv -f "$new" "$wheel"
rmdir "$LIB/incoming"
umask 077
input balancer_config > "$ETC/config"
input balancer_key > "$ETC/key.pem"
input balancer_args > "$ETC/args"
umask 022
cat > "$LIB/run" <<'RUN'
#!/bin/bash
# The balancer in the foreground (the supervisor or systemd restarts it if it ends).
set -u
set -a
# shellcheck disable=SC1091
[ -r /etc/environment ] && . /etc/environment  # e.g. AWS_ENDPOINT_URL, the region
set +a
export HOME=/root PYTHONUNBUFFERED=1
mapfile -t args < /etc/sclust-balancer/args
exec /opt/sclust-balancer/venv/bin/sclust -c /etc/sclust-balancer/config loadbalance "${args[@]}"
RUN
chmod 755 "$LIB/run"
balancer_supervisor > "$LIB/sclust-balancer"
chmod 755 "$LIB/sclust-balancer"
rm -f "$ETC/stopped"
if [ -d /run/systemd/system ]; then
  cat > /etc/systemd/system/sclust-balancer.service <<UNIT
[Unit]
Description=sclust load balancer
After=network-online.target gridengine-master.service
[Service]
ExecStart=$LIB/run
Restart=always
RestartSec=10
StandardOutput=append:$LOG
StandardError=append:$LOG
KillSignal=SIGINT
TimeoutStopSec=600
[Install]
WantedBy=multi-user.target
UNIT
  systemctl daemon-reload
  systemctl enable sclust-balancer.service >/dev/null 2>&1
  systemctl restart sclust-balancer.service
else
  if [ ! -e /etc/rc.local ]; then printf '#!/bin/sh -e\n\nexit 0\n' > /etc/rc.local; fi
  if ! grep -qF "$LIB/sclust-balancer start" /etc/rc.local; then
    awk -v line="$LIB/sclust-balancer start || true" \
      '!done && /^exit 0/ {print line; done=1} {print} END {if (!done) print line}' \
      /etc/rc.local > /etc/rc.local.sclust && cat /etc/rc.local.sclust > /etc/rc.local
    rm -f /etc/rc.local.sclust
  fi
  chmod 755 /etc/rc.local
  "$LIB/sclust-balancer" restart
fi
echo "balancer-installed $(basename "$wheel")"

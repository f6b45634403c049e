# shellcheck shell=bash
# The Jupyter kind's step (after desktop-base.sh, before desktop-start.sh): JupyterLab as the
# desktop's student over HTTPS on JUPYTER_PORT, with the desktop's certificate, opened by the
# desktop's own token. Inputs: jupyter_port, jupyter_token (a secret: only ever in a 0640 file).
JUPYTER_PORT=$(input jupyter_port)
JUPYTER_VENV=/opt/sclust-jupyter  # the local cloud's hosts find it installed (quickstart.sh)

# --- software: JupyterLab in its own venv, installed once ------------------------------------
if [ ! -x "$JUPYTER_VENV/bin/jupyter-lab" ]; then
  if ! have python3 || ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
    say "installing python3-venv"
    install_packages python3-venv python3-pip -- python3 python3-pip
  fi
  say "installing JupyterLab into $JUPYTER_VENV"
  python3 -m venv "$JUPYTER_VENV"
  if ! "$JUPYTER_VENV/bin/pip" install -q jupyterlab >&2; then
    rm -rf "$JUPYTER_VENV"; say "pip could not install JupyterLab"; exit 3
  fi
fi
if [ ! -x "$JUPYTER_VENV/bin/jupyter-lab" ]; then say "JupyterLab still missing"; exit 3; fi

# --- files: a changed one restarts JupyterLab ------------------------------------------------
# The token: root's to write, the student's to read (JupyterLab runs as the student).
put "$ETC/jupyter-token" 640 "root:$DESKTOP_USER" jupyter < <(input jupyter_token)
put "$ETC/jupyter.env" 644 root:root jupyter < <(vars DESKTOP_USER JUPYTER_PORT JUPYTER_VENV)
put "$ETC/jupyter_config.py" 644 root:root jupyter <<'CONFIG'
# sclust: JupyterLab of this desktop (the port and certificate come from run-jupyter).
import pathlib
c = get_config()  # noqa: F821 (Jupyter's config loader defines it)
c.IdentityProvider.token = pathlib.Path("/etc/sclust-desktop/jupyter-token").read_text().strip()
c.ServerApp.ip = "0.0.0.0"
c.ServerApp.open_browser = False
c.ServerApp.allow_remote_access = True
c.ServerApp.port_retries = 0
c.ServerApp.certfile = "/etc/sclust-desktop/jupyter.crt"
c.ServerApp.keyfile = "/etc/sclust-desktop/jupyter.key"
# No calls out from the desktop: no news feed, no update check against the package index,
# and the page does not ask the student about them.
c.LabApp.news_url = None
c.LabApp.check_for_updates_class = "jupyterlab.NeverCheckForUpdate"
c.LabApp.app_settings_dir = "/etc/sclust-desktop/jupyter-settings"
CONFIG
install -d -m 755 "$ETC/jupyter-settings"
put "$ETC/jupyter-settings/overrides.json" 644 root:root jupyter <<'SETTINGS'
{"@jupyterlab/apputils-extension:notification": {"fetchNews": "false", "checkForUpdates": false}}
SETTINGS
# The desktop's one certificate (as noVNC's); the key copy readable by the student.
desktop_cert jupyter
put "$ETC/jupyter.crt" 644 root:root jupyter < "$ETC/novnc.crt"
put "$ETC/jupyter.key" 640 "root:$DESKTOP_USER" jupyter < "$ETC/novnc.key"

put "$LIB/run-jupyter" 755 root:root jupyter <<PROGRAM
#!/bin/bash
# JupyterLab over HTTPS as the student, in the student's home (kernels and terminals too).
set -eu
. $ETC/jupyter.env
RUN_AS=\$DESKTOP_USER
$(as_user)
cd "\$home"
exec "\${drop[@]}" "\$JUPYTER_VENV/bin/jupyter-lab" --config=$ETC/jupyter_config.py \\
  --port="\$JUPYTER_PORT" --ServerApp.root_dir="\$home"
PROGRAM

daemon jupyter "JupyterLab over HTTPS on port $JUPYTER_PORT" ""
WAIT_PORTS+=("$JUPYTER_PORT")
CLIENT_PORTS+=("$JUPYTER_PORT")
echo "port $JUPYTER_PORT"
echo "cert-sha256 $(openssl x509 -in "$ETC/novnc.crt" -noout -fingerprint -sha256 | cut -d= -f2)"

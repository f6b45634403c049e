# shellcheck shell=bash
# Step 1 of every desktop kind's setup (then the kind's own step, then desktop-start.sh): the
# helpers the kinds use, the session account, the settings every kind shares. Runs as root.
# Inputs: desktop_user, desktop_name, timezone, auto_stop (absent: no daily power-off),
# desktop_label (the desktop's number, shown on its screen and in the shell prompt; absent on a
# cluster's master), idle_stop (seconds without a client on the kinds' pages before the desktop
# powers off; absent: never).
#
# Layout on the desktop:
#   /etc/sclust-desktop/            settings, one env file per daemon (a changed file restarts
#                                   only that daemon), credentials, TLS key+cert, `daemons`
#   /usr/local/lib/sclust-desktop/  run-NAME per daemon (each drops to its user itself) and
#                                   `sclust-desktop`, the supervisor for hosts without systemd
#   /var/log/sclust-desktop/        the daemons' logs (without systemd)
umask 022
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LC_ALL=C
ETC=/etc/sclust-desktop LIB=/usr/local/lib/sclust-desktop LOG=/var/log/sclust-desktop
DESKTOP_USER=$(input desktop_user)
DESKTOP_NAME=$(input desktop_name)
TZONE=$(input timezone)
AUTO_STOP=""
if has_input auto_stop; then AUTO_STOP=$(input auto_stop); fi
DESKTOP_LABEL=""
if has_input desktop_label; then DESKTOP_LABEL=$(input desktop_label); fi
IDLE_STOP=""
# shellcheck disable=SC2034  # read by desktop-start.sh
if has_input idle_stop; then IDLE_STOP=$(input idle_stop); fi
CHANGED=()     # daemons whose files changed: restarted at the end
DAEMONS=()     # the kind's daemons, in start order (declared with `daemon`)
# shellcheck disable=SC2034  # read by desktop-start.sh
WAIT_PORTS=()  # local ports that must answer before the setup reports
# shellcheck disable=SC2034  # read by desktop-start.sh
CLIENT_PORTS=()  # the pages students open: a connection there is a student using the desktop
UNITS=/etc/systemd/system

have() { command -v "$1" >/dev/null 2>&1; }
say() { echo "sclust-desktop: $*" >&2; }
first_of() { local c; for c in "$@"; do if have "$c"; then command -v "$c"; return; fi; done; }
systemd_runs() { [ -d /run/systemd/system ]; }

install_packages() {  # install_packages APT-NAMES -- DNF-NAMES (words; only what is missing)
  local apt=() dnf=() into=apt word
  for word in "$@"; do
    if [ "$word" = -- ]; then into=dnf; elif [ $into = apt ]; then apt+=("$word")
    else dnf+=("$word"); fi
  done
  if have apt-get; then
    export DEBIAN_FRONTEND=noninteractive
    # At first boot cloud-init or unattended-upgrades may hold dpkg's lock for minutes.
    apt-get -o DPkg::Lock::Timeout=600 -qq update >&2
    apt-get -o DPkg::Lock::Timeout=600 -qq -y install --no-install-recommends "${apt[@]}" >&2
  elif have dnf; then
    dnf -q -y install "${dnf[@]}" >&2
  else
    say "cannot install ${apt[*]}: this image has neither apt-get nor dnf"; exit 3
  fi
}

put() {  # put PATH MODE OWNER [DAEMON] < content: written only when different
  local path=$1 mode=$2 owner=$3 daemon=${4:-} tmp
  tmp=$(mktemp "$(dirname "$path")/.new.XXXXXX")  # 0600 until chmod: safe for secrets
  cat > "$tmp"; chmod "$mode" "$tmp"; chown "$owner" "$tmp"
  if [ -e "$path" ] && cmp -s "$tmp" "$path" \
      && [ "$(stat -c %a:%U:%G "$tmp")" = "$(stat -c %a:%U:%G "$path")" ]; then
    rm -f "$tmp"; return 0
  fi
  mv -f "$tmp" "$path"
  if [ -n "$daemon" ]; then CHANGED+=("$daemon"); fi
}
vars() { local v; for v in "$@"; do printf '%s=%q\n' "$v" "${!v}"; done; }

as_user() {  # the lines a run-NAME program uses to drop to $RUN_AS with a clean environment
  cat <<'LINES'
home=$(getent passwd "$RUN_AS" | cut -d: -f6)
drop=(env -i PATH=/usr/local/bin:/usr/bin:/bin HOME="$home" USER="$RUN_AS" LOGNAME="$RUN_AS"
      SHELL=/bin/bash LANG=C.UTF-8 setpriv --reuid="$RUN_AS" --regid="$RUN_AS" --init-groups --)
LINES
}

daemon() {  # daemon NAME DESCRIPTION AFTER-UNITS: $LIB/run-NAME runs under systemd or the supervisor
  DAEMONS+=("$1")
  if systemd_runs; then
    put "$UNITS/sclust-desktop-$1.service" 644 root:root "$1" <<UNIT
[Unit]
Description=sclust desktop: $2
After=network.target $3
[Service]
ExecStart=$LIB/run-$1
Restart=always
RestartSec=2
[Install]
WantedBy=multi-user.target
UNIT
  fi
}

# --- what every kind needs -----------------------------------------------------------------
missing=()
have openssl || missing+=(openssl)
have setpriv || missing+=(util-linux)
if [ ${#missing[@]} -gt 0 ]; then
  say "installing ${missing[*]}"
  install_packages "${missing[@]}" -- "${missing[@]}"
fi
if [ -n "$AUTO_STOP" ] && [ ! -e "/usr/share/zoneinfo/$TZONE" ]; then
  say "unknown time zone $TZONE (no /usr/share/zoneinfo/$TZONE)"; exit 3
fi
id -u "$DESKTOP_USER" >/dev/null 2>&1 || useradd -m -s /bin/bash -c "desktop" "$DESKTOP_USER"
install -d -m 755 "$ETC" "$LIB" "$LOG"

# The desktop's number in the student's shell prompt (terminals of every kind): a line the
# student's ~/.bashrc sources last, so it prefixes whatever prompt the image sets.
if [ -n "$DESKTOP_LABEL" ]; then
  put "$ETC/prompt.sh" 644 root:root <<'PROMPT'
# sclust: this desktop's number before the prompt (the number is in /etc/sclust-desktop/label).
if [ -n "${PS1:-}" ] && [ -r /etc/sclust-desktop/label ]; then
  PS1="[desktop $(cat /etc/sclust-desktop/label)] $PS1"
fi
PROMPT
  put "$ETC/label" 644 root:root session < <(printf '%s\n' "$DESKTOP_LABEL")
  # As the student: their home is theirs (a .bashrc symlink must not lead root elsewhere).
  home=$(getent passwd "$DESKTOP_USER" | cut -d: -f6)
  if [ -n "$home" ] && [ -d "$home" ]; then
    # shellcheck disable=SC2016  # expanded by the student's bash, with the arguments
    setpriv --reuid="$DESKTOP_USER" --regid="$DESKTOP_USER" --init-groups -- bash -c \
      'grep -qsF "$2" "$1" || printf "\n# the desktop number (sclust)\n[ ! -r %s ] || . %s\n" \
         "$2" "$2" >> "$1"' _ "$home/.bashrc" "$ETC/prompt.sh"
  fi
fi

# A certificate made on the desktop itself, once (browsers keep the exception across days),
# shared by every kind the desktop serves. desktop_cert DAEMON...: those restart if it is new.
desktop_cert() {
  local san
  if [ ! -s "$ETC/novnc.crt" ] || [ ! -s "$ETC/novnc.key" ]; then
    if [[ $DESKTOP_NAME =~ ^[0-9.]+$ ]]; then san="IP:$DESKTOP_NAME"; else san="DNS:$DESKTOP_NAME"; fi
    (umask 077; openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
       -days 825 -subj "/CN=$DESKTOP_NAME" -addext "subjectAltName=$san" \
       -keyout "$ETC/novnc.key" -out "$ETC/novnc.crt" 2>/dev/null)
    CHANGED+=("$@")
  fi
  chmod 644 "$ETC/novnc.crt"
}
# cert_for GROUP DAEMON...: the certificate, its key readable by GROUP (the unprivileged user
# serving HTTPS).
cert_for() {
  desktop_cert "${@:2}"
  chown "root:$1" "$ETC/novnc.key"; chmod 640 "$ETC/novnc.key"
}

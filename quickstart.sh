#!/usr/bin/env bash
# sclust quick start on a fresh Debian/Ubuntu machine, as root.
#   ./quickstart.sh demo   install what is needed, bring up the local cloud, start the demo cluster
#   ./quickstart.sh test   install what is needed and run the whole test suite
#   ./quickstart.sh install   only install (system packages, and sclust into ./.venv)
set -euo pipefail
cd "$(dirname "$0")"

# The local cloud's hosts are overlays of this machine's root: what they run is installed here.
APT_PACKAGES=(python3 python3-venv python3-pip iproute2 util-linux mount procps psmisc passwd sudo
              openssh-server openssh-client e2fsprogs
              gridengine-master gridengine-exec gridengine-client
              tigervnc-standalone-server novnc websockify icewm xterm openssl
              chromium chromium-driver  # the browser test of the desktops' pages
              systemd  # only for systemd-analyze in tests: it is not started
              shellcheck)

install() {
  if [ "$(id -u)" != 0 ]; then
    echo "quickstart: run as root (the local cloud makes network namespaces and mounts)" >&2
    exit 1
  fi
  local missing=()
  for package in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "ok installed" \
      || missing+=("$package")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    echo ">>> installing ${missing[*]}"
    apt-get update -qq
    # Packages must not start their daemons (sshd, sge_qmaster) on this machine itself.
    local policy=/usr/sbin/policy-rc.d created=""
    if [ ! -e "$policy" ]; then
      printf '#!/bin/sh\nexit 101\n' > "$policy" && chmod +x "$policy" && created=1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      "${missing[@]}" >/dev/null
    [ -z "$created" ] || rm -f "$policy"
  fi
  # JupyterLab for the local cloud's Jupyter desktops (on EC2 the desktop's setup installs it).
  # Built on Debian's /usr/bin/python3: hosts see this machine's /usr and /opt, not /root
  # (where pyenv and the like keep their interpreters), so a venv over one of those is broken there.
  if [ ! -x /opt/sclust-jupyter/bin/jupyter-lab ] \
      || [[ "$(readlink -f /opt/sclust-jupyter/bin/python3)" != /usr/* ]]; then
    echo ">>> installing JupyterLab into /opt/sclust-jupyter"
    rm -rf /opt/sclust-jupyter
    /usr/bin/python3 -m venv /opt/sclust-jupyter
    /opt/sclust-jupyter/bin/pip install -q jupyterlab
  fi
  if [ ! -x .venv/bin/sclust ]; then
    echo ">>> installing sclust into .venv"
    python3 -m venv .venv
    .venv/bin/pip install -q --upgrade pip
  fi
  .venv/bin/pip install -q -e '.[test,local]'
}

demo() {
  local sclust=(.venv/bin/sclust -c configs/local.ini)
  local key="$HOME/.sclust/keys/demo.pem"
  if [ ! -f "$key" ]; then
    mkdir -p "$(dirname "$key")"
    ssh-keygen -q -t ed25519 -N '' -m PEM -f "$key"
  fi
  "${sclust[@]}" local up
  "${sclust[@]}" createkey demo -i "$key"
  if "${sclust[@]}" listclusters demo >/dev/null 2>&1; then
    "${sclust[@]}" start -x demo
  else
    "${sclust[@]}" start demo
  fi
  "${sclust[@]}" listclusters demo
  "${sclust[@]}" sshmaster demo 'qhost'
  echo ">>> a job submitted as the cluster user (qsub -sync y waits for it):"
  # shellcheck disable=SC2016  # expands on the master, not here
  "${sclust[@]}" sshmaster demo 'rm -f /home/sgeadmin/hello.out; su - sgeadmin -c \
    "qsub -sync y -b y -j y -N hello -o /home/sgeadmin/hello.out hostname" >/dev/null \
    && echo "job ran on $(cat /home/sgeadmin/hello.out)"'
  echo ">>> the demo cluster runs; try: ${sclust[*]} sshmaster demo"
  echo ">>> remove it with: ${sclust[*]} terminate demo && ${sclust[*]} local down"
}

tests() {
  .venv/bin/ruff check .
  # Every script sclust ships or runs, and our own.
  git ls-files -z '*.sh' .ci/run .ci/typecheck | xargs -0 shellcheck -x
  .ci/typecheck
  .venv/bin/python -m pytest -q -ra "$@"
}

case "${1:-}" in
  install) install ;;
  demo) install; demo ;;
  test) install; shift; tests "$@" ;;
  *) sed -n '2,6p' "$0"; exit 2 ;;
esac

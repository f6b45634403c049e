# shellcheck shell=bash
# Root's cluster key: made on the master (no root_key input; printed between markers for the
# nodes), installed on the nodes from the root_key input (a secret: it travels on stdin only).
mkdir -p /root/.ssh
chmod 700 /root/.ssh
if has_input root_key; then
  (umask 077 && input root_key > /root/.ssh/id_ed25519.sclust-tmp)
  mv -f /root/.ssh/id_ed25519.sclust-tmp /root/.ssh/id_ed25519
  ssh-keygen -y -f /root/.ssh/id_ed25519 > /root/.ssh/id_ed25519.pub
else
  [ -f /root/.ssh/id_ed25519 ] || ssh-keygen -q -t ed25519 -N '' -f /root/.ssh/id_ed25519
fi
grep -qxF "$(cat /root/.ssh/id_ed25519.pub)" /root/.ssh/authorized_keys 2>/dev/null \
  || cat /root/.ssh/id_ed25519.pub >> /root/.ssh/authorized_keys
if ! has_input root_key; then
  echo root-key-begin
  cat /root/.ssh/id_ed25519
  echo root-key-end
fi

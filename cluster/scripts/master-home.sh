# shellcheck shell=bash
# On the master: the cluster user's home and SSH key (the nodes see them over NFS).
# Input: cluster_user.
user=$(input cluster_user)
home=/home/$user
mkdir -p "$home/.ssh"
[ -f "$home/.bashrc" ] || cp -rT /etc/skel "$home" 2>/dev/null || true
[ -f "$home/.ssh/id_ed25519" ] || ssh-keygen -q -t ed25519 -N '' -f "$home/.ssh/id_ed25519"
grep -qxF "$(cat "$home/.ssh/id_ed25519.pub")" "$home/.ssh/authorized_keys" 2>/dev/null \
  || cat "$home/.ssh/id_ed25519.pub" >> "$home/.ssh/authorized_keys"
chmod 700 "$home/.ssh"
chmod 600 "$home/.ssh/authorized_keys"
chown -R "$user:" "$home"

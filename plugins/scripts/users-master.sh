# shellcheck shell=bash
# CreateUsers on the master: each user of `usernames` with a home, an ed25519 key and
# passwordless SSH between the nodes; prints `user NAME UID GID` and, with download_keys,
# the private key between `key-begin NAME` and `key-end`. Inputs: usernames, user_shell,
# download_keys (optional).
usernames=()
input_lines usernames usernames
user_shell=$(input user_shell)
for user in "${usernames[@]}"; do
  if ! id -u "$user" >/dev/null 2>&1; then
    useradd -m -s "$user_shell" "$user"
  fi
  home=$(getent passwd "$user" | cut -d: -f6)
  install -d -m 700 -o "$user" -g "$(id -g "$user")" "$home/.ssh"
  if [ ! -f "$home/.ssh/id_ed25519" ]; then
    ssh-keygen -q -t ed25519 -N '' -C "$user@cluster" -f "$home/.ssh/id_ed25519"
    chown "$user:" "$home/.ssh/id_ed25519" "$home/.ssh/id_ed25519.pub"
  fi
  grep -qxF "$(cat "$home/.ssh/id_ed25519.pub")" "$home/.ssh/authorized_keys" 2>/dev/null \
    || cat "$home/.ssh/id_ed25519.pub" >> "$home/.ssh/authorized_keys"
  chown "$user:" "$home/.ssh/authorized_keys"
  chmod 600 "$home/.ssh/authorized_keys"
  # Nodes share the master's host keys list through /etc/ssh/ssh_known_hosts (node setup).
  echo "user $user $(id -u "$user") $(id -g "$user")"
  if has_input download_keys; then
    echo "key-begin $user"
    cat "$home/.ssh/id_ed25519"
    echo "key-end"
  fi
done

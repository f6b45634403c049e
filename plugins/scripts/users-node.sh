# shellcheck shell=bash
# CreateUsers on a node: the master's users with the same uid and gid (homes come over NFS).
# Inputs: accounts ("NAME UID GID" lines), user_shell.
accounts=()
input_lines accounts accounts
user_shell=$(input user_shell)
for account in "${accounts[@]}"; do
  read -r user uid gid <<< "$account"
  getent group "$user" >/dev/null || groupadd -g "$gid" "$user"
  id -u "$user" >/dev/null 2>&1 || useradd -M -d "/home/$user" -u "$uid" -g "$gid" \
    -s "$user_shell" "$user"
done

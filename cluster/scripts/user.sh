# shellcheck shell=bash
# Ensure the cluster user exists with a home in /home, and print `uid-gid UID GID` (the
# master's choice is applied everywhere). Inputs: cluster_user, cluster_shell, and on nodes
# user_uid and user_gid (absent on the master: keep or choose here).
user=$(input cluster_user)
shell=$(command -v "$(input cluster_shell)" || echo /bin/bash)
uid=""
gid=""
if has_input user_uid; then
  uid=$(input user_uid)
  gid=$(input user_gid)
fi
if ! getent group "$user" >/dev/null; then
  if [ -n "$gid" ]; then groupadd -g "$gid" "$user"; else groupadd "$user"; fi
fi
if id -u "$user" >/dev/null 2>&1; then
  usermod -d "/home/$user" -s "$shell" "$user"
  if [ -n "$uid" ]; then
    [ "$(id -u "$user")" = "$uid" ] || usermod -o -u "$uid" "$user"
    [ "$(id -g "$user")" = "$gid" ] || { groupmod -o -g "$gid" "$user"; usermod -g "$gid" "$user"; }
  fi
elif [ -n "$uid" ]; then
  useradd -M -d "/home/$user" -s "$shell" -u "$uid" -g "$gid" "$user"
else
  useradd -M -d "/home/$user" -s "$shell" -g "$user" "$user"
fi
echo "uid-gid $(id -u "$user") $(id -g "$user")"

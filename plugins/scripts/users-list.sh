# shellcheck shell=bash
# CreateUsers: `user NAME UID GID` for each of `usernames` that exists here.
usernames=()
input_lines usernames usernames
for user in "${usernames[@]}"; do
  if id -u "$user" >/dev/null 2>&1; then
    echo "user $user $(id -u "$user") $(id -g "$user")"
  fi
done

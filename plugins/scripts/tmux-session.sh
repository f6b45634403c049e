# shellcheck shell=bash
# TmuxControlCenter: a detached tmux session `session` for `user` on the master, one window
# per node (`ssh ALIAS`); an existing session gets the windows it lacks.
session=$(input session)
user=$(input user)
aliases=()
input_lines aliases aliases
as_user() { sudo -H -u "$user" -- "$@"; }
if ! as_user tmux has-session -t "=$session" 2>/dev/null; then
  as_user tmux new-session -d -s "$session" -n master
fi
windows=$(as_user tmux list-windows -t "=$session" -F '#{window_name}')
for alias in "${aliases[@]}"; do
  [ "$alias" = master ] && continue
  grep -qx -- "$alias" <<<"$windows" && continue
  as_user tmux new-window -d -t "=$session:" -n "$alias" -- ssh -t "$alias"
done
echo "tmux: session $session with ${#aliases[@]} window(s)"

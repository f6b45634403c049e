# shellcheck shell=bash
# The jupyter plugin: keep its token (input `token`) on the master, root-only, so any machine
# with the cluster's key reports the same one and restarts keep it.
kept=/root/.sclust-jupyter-token
tmp=$(umask 077; mktemp "$kept.XXXXXX")
{ input token; echo; } > "$tmp"
chmod 600 "$tmp"
mv -f "$tmp" "$kept"

# shellcheck shell=bash
# The novnc plugin: keep its password (input `password`) on the master, root-only, so any
# machine with the cluster's key reports the same one and restarts keep it.
kept=/root/.sclust-novnc-password
tmp=$(umask 077; mktemp "$kept.XXXXXX")
{ input password; echo; } > "$tmp"
chmod 600 "$tmp"
mv -f "$tmp" "$kept"

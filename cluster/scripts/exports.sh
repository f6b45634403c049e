# shellcheck shell=bash
# On the master: /etc/exports written whole (every shared path to every node), re-exported.
# Inputs: shared_paths (a line each), exports (the whole file).
shared_paths=()
input_lines shared_paths shared_paths
mkdir -p -- "${shared_paths[@]}"
(umask 022 && input exports > /etc/exports.sclust-tmp)
chmod 644 /etc/exports.sclust-tmp
mv -f /etc/exports.sclust-tmp /etc/exports
exportfs -ra

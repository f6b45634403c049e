# shellcheck shell=bash
# NodeSSH.write_file: the input `content` to the path `path` with mode `mode`, atomically
# (written beside it, then renamed); the content never shows in a command line.
path=$(input path)
(umask 077 && input content > "$path.sclust-tmp")
chmod "$(input mode)" "$path.sclust-tmp"
mv -f -- "$path.sclust-tmp" "$path"

# shellcheck shell=bash
# `sclust desktops run --sudo`: the instructor's command (input `command`) run by a fresh bash
# as root, read from its file: whatever it holds never shows in a command line or `ps`.
exec bash -- "$SCLUST_INPUT/command"

# shellcheck shell=bash
# The novnc plugin: print the password it keeps on the master (nothing when there is none).
if [ -s /root/.sclust-novnc-password ]; then head -n 1 /root/.sclust-novnc-password; fi

# shellcheck shell=bash
# The jupyter plugin: print the token it keeps on the master (nothing when there is none).
if [ -s /root/.sclust-jupyter-token ]; then head -n 1 /root/.sclust-jupyter-token; fi

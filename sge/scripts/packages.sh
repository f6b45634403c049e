# shellcheck shell=bash
# Image building: install Grid Engine's master and exec packages without configuring them
# (master.sh and exec.sh find them installed and install nothing at a cluster's boot).
# A fresh instance's cloud-init may still hold the package manager's lock: wait for it.
if command -v cloud-init >/dev/null; then cloud-init status --wait >/dev/null 2>&1 || true; fi
sge_install sge_qmaster "gridengine-master gridengine-client gridengine-exec" \
  "gridengine-qmaster gridengine-execd"
sge_install sge_execd "gridengine-exec gridengine-client" gridengine-execd
echo "installed: Grid Engine"

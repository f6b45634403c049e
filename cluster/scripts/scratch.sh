# shellcheck shell=bash
# StarCluster's /mnt/USER scratch directory. Input: cluster_user.
scratch_user=$(input cluster_user)
mkdir -p "/mnt/$scratch_user"
chown "$scratch_user:" "/mnt/$scratch_user"

# shellcheck shell=bash
# Ensure this node's name and the cluster's /etc/hosts.
# Inputs: host_name, hosts_file (the whole /etc/hosts).
host_name=$(input host_name)
hostname "$host_name"
printf '%s\n' "$host_name" > /etc/hostname
# /etc/hosts may be a bind mount on some images: write through, do not replace.
input hosts_file > /etc/hosts

# shellcheck shell=bash
# Every node's host key under its name and address, for root and every user.
# Input: known_hosts (the whole file).
(umask 022 && input known_hosts > /etc/ssh/ssh_known_hosts.sclust-tmp)
chmod 644 /etc/ssh/ssh_known_hosts.sclust-tmp
mv -f /etc/ssh/ssh_known_hosts.sclust-tmp /etc/ssh/ssh_known_hosts

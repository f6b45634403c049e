# shellcheck shell=bash
# On a worker, for the balancer's reconciliation: prove the node answers, and print its spot
# interruption notice if its instance metadata (IMDSv2) has one. Prints `alive`, then
# `spot-action ACTION` when the notice is there (EC2's spot/instance-action document); a
# metadata service that does not answer is no notice.
echo alive
imds=http://169.254.169.254/latest
token=$(curl -sf -m 2 -X PUT -H 'X-aws-ec2-metadata-token-ttl-seconds: 60' "$imds/api/token") \
  || exit 0
notice=$(curl -sf -m 2 -H "X-aws-ec2-metadata-token: $token" \
  "$imds/meta-data/spot/instance-action") || exit 0
action=$(printf '%s' "$notice" | tr -d '\n' | sed -n 's/.*"action"[[:space:]]*:[[:space:]]*"\([a-z]*\)".*/\1/p')
echo "spot-action ${action:-terminate}"

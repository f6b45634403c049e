"""The least-privilege IAM policy of a balancer running on the master of cluster TAG: it may
read EC2 (describe calls cannot be narrowed), launch instances only tagged for TAG, tag only
what it launches or what is TAG's, and stop, terminate or cancel only what is tagged for TAG.
`sclust loadbalance TAG --print-policy` prints it; other code (an instance-role setup) reuses
`balancer_iam_policy`."""

from __future__ import annotations

import json
from typing import Any

from sclust.state import TAG_CLUSTER

READS = [
    "ec2:DescribeInstances", "ec2:DescribeInstanceStatus", "ec2:DescribeInstanceTypes",
    "ec2:DescribeImages", "ec2:DescribeSubnets", "ec2:DescribeVpcs",
    "ec2:DescribeSecurityGroups", "ec2:DescribeKeyPairs", "ec2:DescribeVolumes",
    "ec2:DescribeAddresses", "ec2:DescribeAvailabilityZones", "ec2:DescribeTags",
    "ec2:DescribeSpotInstanceRequests", "ec2:DescribeAccountAttributes",
]
LAUNCHED = ["instance", "volume", "network-interface", "spot-instances-request"]


def balancer_iam_policy(tag: str, node_role_arn: str | None = None,
                        partition: str = "aws") -> dict[str, Any]:
    """The policy document (a dict ready for `json.dumps`) for TAG's balancer. NODE_ROLE_ARN:
    the role of the nodes' instance profile, which launching them passes (none: no PassRole)."""
    arn = f"arn:{partition}:ec2:*:*"
    own = {"StringEquals": {f"aws:ResourceTag/{TAG_CLUSTER}": tag}}
    statements: list[dict[str, Any]] = [
        {"Sid": "ReadEC2", "Effect": "Allow", "Action": READS, "Resource": "*"},
        {"Sid": "LaunchOnlyTaggedForTheCluster", "Effect": "Allow",
         "Action": ["ec2:RunInstances", "ec2:RequestSpotInstances"],
         "Resource": [f"{arn}:instance/*", f"{arn}:spot-instances-request/*"],
         "Condition": {"StringEquals": {f"aws:RequestTag/{TAG_CLUSTER}": tag}}},
        # What a launch creates with the instance (its root volume, its interface) and uses.
        {"Sid": "LaunchWithItsVolumesInterfacesImageSubnetKey", "Effect": "Allow",
         "Action": ["ec2:RunInstances", "ec2:RequestSpotInstances"],
         "Resource": [f"{arn}:volume/*", f"{arn}:network-interface/*",
                      f"arn:{partition}:ec2:*::image/*", f"{arn}:subnet/*",
                      f"{arn}:key-pair/*", f"{arn}:placement-group/*"]},
        {"Sid": "LaunchIntoTheClusterGroupOnly", "Effect": "Allow",
         "Action": ["ec2:RunInstances", "ec2:RequestSpotInstances"],
         "Resource": [f"{arn}:security-group/*"], "Condition": own},
        {"Sid": "TagWhatItLaunches", "Effect": "Allow", "Action": "ec2:CreateTags",
         "Resource": [f"{arn}:{kind}/*" for kind in LAUNCHED],
         "Condition": {"StringEquals": {
             "ec2:CreateAction": ["RunInstances", "RequestSpotInstances"]}}},
        {"Sid": "TagOnlyTheClusters", "Effect": "Allow", "Action": "ec2:CreateTags",
         "Resource": [f"{arn}:{kind}/*" for kind in LAUNCHED], "Condition": own},
        {"Sid": "ReadUserDataOfTheClusters", "Effect": "Allow",
         "Action": "ec2:DescribeInstanceAttribute", "Resource": f"{arn}:instance/*",
         "Condition": own},
        {"Sid": "StopTerminateOnlyTheClusters", "Effect": "Allow",
         "Action": ["ec2:TerminateInstances", "ec2:StopInstances", "ec2:StartInstances",
                    "ec2:CancelSpotInstanceRequests"],
         "Resource": [f"{arn}:instance/*", f"{arn}:spot-instances-request/*"],
         "Condition": own},
    ]
    if node_role_arn:
        statements.append({"Sid": "PassTheNodeRole", "Effect": "Allow",
                           "Action": "iam:PassRole", "Resource": node_role_arn,
                           "Condition": {"StringEquals": {"iam:PassedToService":
                                                          "ec2.amazonaws.com"}}})
    return {"Version": "2012-10-17", "Statement": statements}


def policy_json(tag: str, node_role_arn: str | None = None) -> str:
    return json.dumps(balancer_iam_policy(tag, node_role_arn), indent=2)

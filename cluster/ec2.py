"""Everything EC2: the only module that imports boto3.

It talks to whatever endpoint boto3 is configured for (AWS, or the local cloud through
AWS_ENDPOINT_URL). Calls are batched so that the number of requests does not grow with the
number of nodes; errors users can act on become CloudError with a message saying what to do.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import boto3
import botocore.config
import botocore.exceptions

from sclust.config import AwsSettings, Permission
from sclust.errors import CloudError
from sclust.state import (
    TAG_ALIAS,
    TAG_ALIAS_FIRST,
    TAG_CLUSTER,
    TAG_ROLE,
    ClusterInfo,
    ClusterSettings,
    Node,
    node_alias,
)

log = logging.getLogger(__name__)

LIVE_STATES = ["pending", "running", "stopping", "stopped", "shutting-down"]


class CapacityError(CloudError):
    """EC2 has no capacity for this type in this zone (worth trying elsewhere)."""


@dataclass
class LaunchRequest:
    """One RunInstances call: COUNT instances of one type and AMI, all tagged for the cluster."""

    cluster: str
    role: str  # "master" or "node"
    count: int
    image_id: str
    instance_type: str
    keyname: str
    security_group_id: str
    subnet_id: str
    aliases: list[str]  # one per instance, in launch-index order
    name_prefix: str = ""  # "TAG-" with DNS_PREFIX
    spot_bid: float | None = None
    user_data: str | None = None
    root_volume_size: int | None = None
    public_ip: bool | None = None


ERROR_ADVICE: dict[str, str] = {
    "InstanceLimitExceeded": "you reached the region's instance limit: ask AWS for more in the "
    "Service Quotas console (EC2 > Running On-Demand instances), or use fewer or smaller nodes",
    "VcpuLimitExceeded": "you reached the region's vCPU limit for this instance family: ask AWS "
    "for more in the Service Quotas console (EC2 > Running On-Demand instances), or use fewer or "
    "smaller nodes",
    "MaxSpotInstanceCountExceeded": "you reached the spot instance limit: ask AWS for more in "
    "the Service Quotas console, or launch on-demand (no SPOT_BID)",
    "InvalidAMIID.NotFound": "the AMI does not exist in this region (AMIs are per region): "
    "check NODE_IMAGE_ID / MASTER_IMAGE_ID and AWS_REGION_NAME",
    "InvalidAMIID.Malformed": "the AMI id is malformed: check NODE_IMAGE_ID / MASTER_IMAGE_ID",
    "InvalidKeyPair.NotFound": "the key pair does not exist in this region: create it with "
    "`sclust createkey NAME -o FILE`, or import your public key in the EC2 console",
    "AuthFailure": "AWS rejected the credentials: check [aws info] or your AWS profile",
    "UnauthorizedOperation": "the credentials are not allowed to do this: check their IAM policy",
    "RequestLimitExceeded": "EC2 kept throttling the requests; wait a minute and retry",
    "InvalidSubnetID.NotFound": "the subnet does not exist in this region: check SUBNET_ID",
    "InvalidVolume.NotFound": "the volume does not exist in this region: check VOLUME_ID",
    "InvalidParameterValue": "EC2 rejected a value",
    "Unsupported": "EC2 does not offer this here (instance type or option in this zone)",
}


def translate(error: botocore.exceptions.ClientError, doing: str) -> CloudError:
    """A botocore error -> CloudError whose message says what failed and what to do."""
    code = error.response.get("Error", {}).get("Code", "Unknown")
    message = error.response.get("Error", {}).get("Message", str(error))
    advice = ERROR_ADVICE.get(code)
    text = f"{doing}: {code}: {message}" + (f" — {advice}" if advice else "")
    if code in ("InsufficientInstanceCapacity", "InsufficientCapacity"):
        return CapacityError(text)
    return CloudError(text)


@contextmanager
def ec2_errors(doing: str) -> Iterator[None]:
    try:
        yield
    except botocore.exceptions.ClientError as error:
        raise translate(error, doing) from error
    except botocore.exceptions.NoCredentialsError:
        raise CloudError(
            f"{doing}: no AWS credentials: set them in [aws info], an AWS profile "
            "(aws configure), or the environment"
        ) from None
    except botocore.exceptions.NoRegionError:
        raise CloudError(
            f"{doing}: no AWS region: set AWS_REGION_NAME in [aws info] or AWS_DEFAULT_REGION"
        ) from None
    except botocore.exceptions.EndpointConnectionError as error:
        endpoint = error.kwargs.get("endpoint_url")
        raise CloudError(f"{doing}: cannot reach EC2 at {endpoint}") from None


def tags_of(resource: dict[str, Any]) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in resource.get("Tags", [])}


def tag_list(tags: dict[str, str]) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in tags.items()]


class Cloud:
    """A region of EC2 (or of an EC2-compatible endpoint) as sclust uses it."""

    def __init__(self, aws: AwsSettings, region: str | None = None) -> None:
        session = boto3.Session(
            aws_access_key_id=aws.access_key_id,
            aws_secret_access_key=aws.secret_access_key,
            aws_session_token=aws.session_token,
            region_name=region or aws.region,
            profile_name=aws.profile,
        )
        config = botocore.config.Config(
            # botocore's standard mode backs off and retries throttling and transient errors.
            # AWS_MAX_ATTEMPTS (boto3's own variable) still wins when set.
            retries={"mode": "standard",
                     "max_attempts": int(os.environ.get("AWS_MAX_ATTEMPTS", "6"))},
            proxies={"https": aws.proxy, "http": aws.proxy} if aws.proxy else None,
            connect_timeout=10,
            read_timeout=60,
        )
        with ec2_errors("connecting to EC2"):
            # endpoint_url None lets boto3 apply AWS_ENDPOINT_URL and its own config chain.
            self.client = session.client(
                "ec2", endpoint_url=aws.endpoint_url, config=config, verify=aws.verify_certs
            )
        self.region = self.client.meta.region_name

    # ---- key pairs -------------------------------------------------------------------------

    def key_fingerprint(self, name: str) -> str | None:
        """The EC2 fingerprint of key pair NAME, or None when it does not exist."""
        try:
            reply = self.client.describe_key_pairs(KeyNames=[name])
        except botocore.exceptions.ClientError as error:
            if error.response["Error"]["Code"] == "InvalidKeyPair.NotFound":
                return None
            raise translate(error, f"looking up key pair {name!r}") from error
        return reply["KeyPairs"][0].get("KeyFingerprint", "")

    def import_key_pair(self, name: str, public_key: bytes) -> None:
        with ec2_errors(f"importing key pair {name!r}"):
            self.client.import_key_pair(KeyName=name, PublicKeyMaterial=public_key)

    def create_key_pair(self, name: str) -> str:
        with ec2_errors(f"creating key pair {name!r}"):
            return self.client.create_key_pair(KeyName=name, KeyType="ed25519")["KeyMaterial"]

    # ---- network ---------------------------------------------------------------------------

    def subnet_for(self, subnet_id: str | None, zone: str | None) -> dict[str, Any]:
        """SUBNET_ID's subnet, or the default VPC's subnet in ZONE (or any zone)."""
        if subnet_id:
            with ec2_errors(f"looking up subnet {subnet_id}"):
                return self.client.describe_subnets(SubnetIds=[subnet_id])["Subnets"][0]
        return self.default_subnets(zone)[0]

    def default_subnets(self, zone: str | None = None) -> list[dict[str, Any]]:
        """Default-VPC subnets (ZONE's first when given), one per zone."""
        with ec2_errors("looking up the default VPC's subnets"):
            subnets = self.client.describe_subnets(
                Filters=[{"Name": "default-for-az", "Values": ["true"]}]
            )["Subnets"]
        if zone:
            subnets = [s for s in subnets if s["AvailabilityZone"] == zone] + [
                s for s in subnets if s["AvailabilityZone"] != zone
            ]
            if not subnets or subnets[0]["AvailabilityZone"] != zone:
                raise CloudError(
                    f"no default subnet in zone {zone} of {self.region}: set SUBNET_ID, or check "
                    "AVAILABILITY_ZONE"
                )
        if not subnets:
            raise CloudError(
                f"region {self.region} has no default VPC subnets: set SUBNET_ID in the template"
            )
        return sorted(subnets, key=lambda s: s["AvailabilityZone"] != zone)

    def create_security_group(
        self, cluster: str, vpc_id: str, settings: ClusterSettings,
        permissions: list[Permission], ssh_cidr: str,
    ) -> str:
        """The cluster's group (tagged with its settings): open within, SSH, and PERMISSIONS."""
        name = f"@sclust-{cluster}"
        tags = {TAG_CLUSTER: cluster, "Name": name, **settings.to_tags()}
        with ec2_errors(f"creating security group {name}"):
            group_id = self.client.create_security_group(
                GroupName=name,
                Description=f"sclust cluster {cluster}",
                VpcId=vpc_id,
                TagSpecifications=[
                    {"ResourceType": "security-group", "Tags": tag_list(tags)}
                ],
            )["GroupId"]
        rules: list[dict[str, Any]] = [
            {"IpProtocol": "-1", "UserIdGroupPairs": [{"GroupId": group_id}]},
            {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22,
             "IpRanges": [{"CidrIp": ssh_cidr, "Description": "ssh"}]},
        ]
        for permission in permissions:
            protocol = "-1" if permission.protocol == "all" else permission.protocol
            rules.append({
                "IpProtocol": protocol, "FromPort": permission.from_port,
                "ToPort": permission.to_port,
                "IpRanges": [{"CidrIp": permission.cidr, "Description": permission.name}],
            })
        with ec2_errors(f"opening ports of {name}"):
            self.client.authorize_security_group_ingress(GroupId=group_id, IpPermissions=rules)
        return group_id

    def update_settings(self, group_id: str, settings: ClusterSettings) -> None:
        """Rewrite the settings tags of the cluster's group (e.g. after a zone change)."""
        with ec2_errors("saving cluster settings"):
            self.client.create_tags(Resources=[group_id], Tags=tag_list(settings.to_tags()))

    def delete_security_group(
        self, group_id: str, timeout: float = 300, sleep: Callable[[float], None] = time.sleep
    ) -> None:
        """Delete a group, retrying while EC2 still counts terminating instances in it."""
        deadline = time.monotonic() + timeout
        delay = 2.0
        while True:
            try:
                self.client.delete_security_group(GroupId=group_id)
                return
            except botocore.exceptions.ClientError as error:
                code = error.response["Error"]["Code"]
                if code == "InvalidGroup.NotFound":
                    return
                if code != "DependencyViolation" or time.monotonic() > deadline:
                    raise translate(error, f"deleting security group {group_id}") from error
                log.info("security group %s still in use; retrying in %.0f s", group_id, delay)
                sleep(delay)
                delay = min(delay * 1.5, 15)

    def default_security_group(self, vpc_id: str) -> str:
        with ec2_errors("looking up the VPC's default security group"):
            groups = self.client.describe_security_groups(
                Filters=[{"Name": "vpc-id", "Values": [vpc_id]},
                         {"Name": "group-name", "Values": ["default"]}]
            )["SecurityGroups"]
        if not groups:
            raise CloudError(f"VPC {vpc_id} has no default security group")
        return groups[0]["GroupId"]

    # ---- clusters --------------------------------------------------------------------------

    def find_clusters(self, cluster: str | None = None) -> list[ClusterInfo]:
        """Every sclust cluster (or just CLUSTER): two describe calls whatever the size."""
        tag_filter = (
            {"Name": f"tag:{TAG_CLUSTER}", "Values": [cluster]}
            if cluster else {"Name": "tag-key", "Values": [TAG_CLUSTER]}
        )
        with ec2_errors("listing clusters"):
            groups = self.client.describe_security_groups(Filters=[tag_filter])["SecurityGroups"]
            reservations = self._paginate(
                "describe_instances", "Reservations",
                Filters=[tag_filter, {"Name": "instance-state-name", "Values": LIVE_STATES}],
            )
        clusters: dict[str, ClusterInfo] = {}
        for group in groups:
            tags = tags_of(group)
            tag = tags[TAG_CLUSTER]
            settings = ClusterSettings.from_tags(tags, tag)
            settings.vpc_id = settings.vpc_id or group.get("VpcId")
            clusters[tag] = ClusterInfo(tag, group["GroupId"], settings)
        for reservation in reservations:
            for instance in reservation["Instances"]:
                tags = tags_of(instance)
                tag = tags[TAG_CLUSTER]
                info = clusters.setdefault(tag, ClusterInfo(tag, None, None))
                info.nodes.append(node_from(instance, tags))
        return sorted(clusters.values(), key=lambda c: c.tag)

    def cluster_nodes(self, cluster: str) -> list[Node]:
        """The live instances of CLUSTER in one describe call (`find_clusters` also reads the
        settings): what the load balancer polls."""
        with ec2_errors("describing the cluster's instances"):
            reservations = self._paginate(
                "describe_instances", "Reservations",
                Filters=[{"Name": f"tag:{TAG_CLUSTER}", "Values": [cluster]},
                         {"Name": "instance-state-name", "Values": LIVE_STATES}],
            )
        return [node_from(i, tags_of(i)) for r in reservations for i in r["Instances"]]

    def _paginate(self, operation: str, key: str, **kwargs: Any) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        for page in self.client.get_paginator(operation).paginate(**kwargs):
            items.extend(page[key])
        return items

    def describe_nodes(self, instance_ids: list[str]) -> list[Node]:
        if not instance_ids:
            return []
        with ec2_errors("describing instances"):
            reservations = self._paginate(
                "describe_instances", "Reservations", InstanceIds=instance_ids
            )
        return [
            node_from(i, tags_of(i)) for r in reservations for i in r["Instances"]
        ]

    # ---- instances -------------------------------------------------------------------------

    def launch(self, request: LaunchRequest) -> list[str]:
        """One RunInstances call for the whole request; every instance and volume tagged."""
        tags = {TAG_CLUSTER: request.cluster, TAG_ROLE: request.role}
        if request.count == 1:
            tags[TAG_ALIAS] = request.aliases[0]
            tags["Name"] = request.name_prefix + request.aliases[0]
        else:
            # EC2 tags a whole RunInstances alike; the launch index tells the nodes apart.
            first, last = request.aliases[0], request.aliases[-1]
            tags[TAG_ALIAS_FIRST] = first
            tags["Name"] = f"{request.name_prefix}{first}…{last}"
        volume_tags = {TAG_CLUSTER: request.cluster}
        kwargs: dict[str, Any] = {
            "ImageId": request.image_id,
            "InstanceType": request.instance_type,
            "MinCount": request.count,
            "MaxCount": request.count,
            "KeyName": request.keyname,
            "TagSpecifications": [
                {"ResourceType": "instance", "Tags": tag_list(tags)},
                {"ResourceType": "volume", "Tags": tag_list(volume_tags)},
            ],
        }
        interface: dict[str, Any] = {
            "DeviceIndex": 0, "SubnetId": request.subnet_id,
            "Groups": [request.security_group_id],
        }
        if request.public_ip is not None:
            interface["AssociatePublicIpAddress"] = request.public_ip
            kwargs["NetworkInterfaces"] = [interface]
        else:
            kwargs["SubnetId"] = request.subnet_id
            kwargs["SecurityGroupIds"] = [request.security_group_id]
        if request.spot_bid:
            kwargs["InstanceMarketOptions"] = {
                "MarketType": "spot",
                "SpotOptions": {"MaxPrice": f"{request.spot_bid:.4f}",
                                "SpotInstanceType": "one-time"},
            }
            kwargs["TagSpecifications"].append(
                {"ResourceType": "spot-instances-request", "Tags": tag_list(volume_tags)}
            )
        if request.user_data:
            kwargs["UserData"] = request.user_data
        if request.root_volume_size:
            kwargs["BlockDeviceMappings"] = [{
                "DeviceName": "/dev/sda1",
                "Ebs": {"VolumeSize": request.root_volume_size, "VolumeType": "gp3",
                        "DeleteOnTermination": True},
            }]
        doing = f"launching {request.count} × {request.instance_type} ({request.role})"
        with ec2_errors(doing):
            reply = self.client.run_instances(**kwargs)
        return [i["InstanceId"] for i in reply["Instances"]]

    def start_instances(self, instance_ids: list[str]) -> None:
        if instance_ids:
            with ec2_errors("starting instances"):
                self.client.start_instances(InstanceIds=instance_ids)

    def stop_instances(self, instance_ids: list[str]) -> None:
        if instance_ids:
            with ec2_errors("stopping instances"):
                self.client.stop_instances(InstanceIds=instance_ids)

    def reboot_instances(self, instance_ids: list[str]) -> None:
        if instance_ids:
            with ec2_errors("rebooting instances"):
                self.client.reboot_instances(InstanceIds=instance_ids)

    def terminate_instances(self, instance_ids: list[str]) -> None:
        if instance_ids:
            with ec2_errors("terminating instances"):
                self.client.terminate_instances(InstanceIds=instance_ids)

    def detach_from_cluster(self, instance_id: str, cluster: str, vpc_id: str) -> None:
        """Keep an instance but take it out of the cluster (removenode -k)."""
        default_group = self.default_security_group(vpc_id)
        with ec2_errors(f"detaching {instance_id} from {cluster}"):
            self.client.modify_instance_attribute(InstanceId=instance_id, Groups=[default_group])
            self.client.delete_tags(
                Resources=[instance_id],
                Tags=[{"Key": k} for k in (TAG_CLUSTER, TAG_ROLE, TAG_ALIAS, TAG_ALIAS_FIRST)],
            )
            self.client.create_tags(
                Resources=[instance_id], Tags=[{"Key": "sclust:removed-from", "Value": cluster}]
            )

    def cancel_spot_requests(self, cluster: str) -> int:
        """Cancel the cluster's open spot requests; returns how many."""
        with ec2_errors("listing spot requests"):
            requests = self.client.describe_spot_instance_requests(
                Filters=[{"Name": f"tag:{TAG_CLUSTER}", "Values": [cluster]},
                         {"Name": "state", "Values": ["open", "active"]}]
            )["SpotInstanceRequests"]
        ids = [r["SpotInstanceRequestId"] for r in requests]
        if ids:
            with ec2_errors("cancelling spot requests"):
                self.client.cancel_spot_instance_requests(SpotInstanceRequestIds=ids)
        return len(ids)

    # ---- volumes ---------------------------------------------------------------------------

    def describe_volumes(self, volume_ids: list[str]) -> list[dict[str, Any]]:
        if not volume_ids:
            return []
        with ec2_errors("looking up volumes " + ", ".join(volume_ids)):
            return self.client.describe_volumes(VolumeIds=volume_ids)["Volumes"]

    def attach_volume(self, volume_id: str, instance_id: str, device: str) -> None:
        with ec2_errors(f"attaching {volume_id} to {instance_id} as {device}"):
            self.client.attach_volume(VolumeId=volume_id, InstanceId=instance_id, Device=device)


def node_from(instance: dict[str, Any], tags: dict[str, str]) -> Node:
    """An EC2 instance description -> Node, its alias from its tags or its launch index."""
    alias = tags.get(TAG_ALIAS)
    if alias is None:
        first = tags.get(TAG_ALIAS_FIRST, "node001")
        number = int(first[4:]) if first[4:].isdigit() else 1
        alias = node_alias(number + int(instance.get("AmiLaunchIndex", 0)))
    return Node(
        instance_id=instance["InstanceId"],
        alias=alias,
        role=tags.get(TAG_ROLE, "node"),
        state=instance["State"]["Name"],
        instance_type=instance["InstanceType"],
        image_id=instance.get("ImageId", ""),
        zone=instance.get("Placement", {}).get("AvailabilityZone", ""),
        private_ip=instance.get("PrivateIpAddress"),
        public_ip=instance.get("PublicIpAddress"),
        spot=instance.get("InstanceLifecycle") == "spot",
        launch_time=instance.get("LaunchTime"),
        root_device_type=instance.get("RootDeviceType", "ebs"),
    )


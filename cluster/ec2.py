"""EC2: the implementation of the Cloud seam, and the only module that imports boto3.

It talks to whatever endpoint boto3 is configured for (AWS, or the local cloud through
AWS_ENDPOINT_URL). Calls are batched so that the number of requests does not grow with the
number of nodes; wire dicts become the project's types (`sclust.cloud`) here and nowhere else;
errors users can act on become CloudError with a message saying what to do.
"""

from __future__ import annotations

import base64
import binascii
import logging
import os
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import boto3
import botocore.config
import botocore.exceptions
import botocore.parsers

from sclust.cloud import (
    LIVE_STATES,
    Address,
    Attachment,
    CapacityError,
    Image,
    Instance,
    LaunchSpec,
    Rule,
    SecurityGroup,
    Subnet,
    Volume,
)
from sclust.config import AwsSettings
from sclust.errors import CloudError, WaitTimeout

log = logging.getLogger(__name__)

FAILED_WHILE_STARTING = {"shutting-down", "terminated"}
# Tagging an instance right after RunInstances can fail: EC2 is eventually consistent.
NOT_YET_VISIBLE = "InvalidInstanceID.NotFound"


ERROR_ADVICE: dict[str, str] = {
    "ExpiredToken": "your temporary credentials expired: `aws sso login --profile PROFILE`, or "
                    "a new session token",
    "ExpiredTokenException": "your temporary credentials expired: `aws sso login --profile "
                             "PROFILE`, or a new session token",
    "RequestExpired": "your clock or temporary credentials are off: check the time and renew "
                      "the credentials",
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
    failure = CloudError(text)
    failure.code = str(code)
    return failure


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
    except (botocore.exceptions.TokenRetrievalError, botocore.exceptions.SSOError,
            botocore.exceptions.UnauthorizedSSOTokenError) as error:
        raise CloudError(
            f"{doing}: the AWS SSO session has expired or was never started ({error}): run "
            "`aws sso login --profile PROFILE` with your config's AWS_PROFILE") from None
    except (botocore.parsers.ResponseParserError, KeyError, TypeError):
        # botocore reads an HTML page as an empty answer: the expected fields are missing.
        log.debug("%s: unreadable answer", doing, exc_info=True)  # the log keeps the details
        raise CloudError(
            f"{doing}: the endpoint answered something that is not an EC2 response: check "
            "AWS_ENDPOINT_URL / AWS_REGION_HOST in [aws info]") from None
    except botocore.exceptions.BotoCoreError as error:  # timeouts, TLS, closed connections
        raise CloudError(f"{doing}: {error}") from None


def tags_of(resource: dict[str, Any]) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in resource.get("Tags", [])}


def tag_list(tags: dict[str, str]) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in tags.items()]


def error_code(error: botocore.exceptions.ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def instance_from(instance: dict[str, Any]) -> Instance:
    return Instance(
        instance_id=instance["InstanceId"],
        state=instance["State"]["Name"],
        instance_type=instance.get("InstanceType", ""),
        image_id=instance.get("ImageId", ""),
        zone=instance.get("Placement", {}).get("AvailabilityZone", ""),
        private_ip=instance.get("PrivateIpAddress") or None,
        public_ip=instance.get("PublicIpAddress") or None,
        spot=instance.get("InstanceLifecycle") == "spot",
        launch_time=instance.get("LaunchTime"),
        launch_index=int(instance.get("AmiLaunchIndex", 0) or 0),
        root_device_type=instance.get("RootDeviceType", "ebs"),
        state_reason=instance.get("StateTransitionReason") or "",
        tags=tags_of(instance),
        security_groups=instance_groups(instance),
        key_name=instance.get("KeyName") or "",
        subnet_id=instance.get("SubnetId") or "",
    )


def instance_groups(instance: dict[str, Any]) -> tuple[str, ...]:
    """The instance's group ids, from its own list and its interfaces' (moto leaves the first
    empty for instances launched with NetworkInterfaces; EC2 fills both)."""
    groups = [g.get("GroupId", "") for g in instance.get("SecurityGroups", [])]
    for interface in instance.get("NetworkInterfaces", []):
        groups += [g.get("GroupId", "") for g in interface.get("Groups", [])]
    return tuple(dict.fromkeys(g for g in groups if g))


def subnet_from(subnet: dict[str, Any]) -> Subnet:
    return Subnet(subnet["SubnetId"], subnet["AvailabilityZone"], subnet["VpcId"],
                  bool(subnet.get("MapPublicIpOnLaunch", False)))


def volume_from(volume: dict[str, Any]) -> Volume:
    return Volume(
        volume_id=volume["VolumeId"], zone=volume["AvailabilityZone"],
        state=volume.get("State", ""), size=int(volume.get("Size", 0) or 0),
        attachments=[Attachment(a["InstanceId"], a.get("Device", ""))
                     for a in volume.get("Attachments", [])],
        tags=tags_of(volume), created=volume.get("CreateTime"),
    )


def address_from(address: dict[str, Any]) -> Address:
    return Address(
        allocation_id=address["AllocationId"], public_ip=address["PublicIp"],
        instance_id=address.get("InstanceId") or None,
        association_id=address.get("AssociationId") or None, tags=tags_of(address),
    )


def permission_of(rule: Rule, group_id: str) -> dict[str, Any]:
    permission: dict[str, Any] = {"IpProtocol": "-1" if rule.protocol == "all" else rule.protocol}
    if rule.from_port is not None:
        permission["FromPort"] = rule.from_port
        permission["ToPort"] = rule.to_port if rule.to_port is not None else rule.from_port
    if rule.source_group:
        source = group_id if rule.source_group == "self" else rule.source_group
        permission["UserIdGroupPairs"] = [{"GroupId": source}]
    else:
        permission["IpRanges"] = [{"CidrIp": rule.cidr or "0.0.0.0/0",
                                   "Description": rule.description}]
    return permission


def permission_keys(permission: dict[str, Any]) -> set[tuple[str, int | None, int | None, str]]:
    """One key per (protocol, ports, source) an ingress permission opens, to compare rules."""
    protocol = str(permission.get("IpProtocol", "-1"))
    ports = (None, None) if protocol == "-1" else (permission.get("FromPort"),
                                                  permission.get("ToPort"))
    sources = [f"cidr {r.get('CidrIp')}" for r in permission.get("IpRanges", [])]
    sources += [f"group {g.get('GroupId')}" for g in permission.get("UserIdGroupPairs", [])]
    return {(protocol, ports[0], ports[1], source) for source in sources}


DEFAULT_REGION = "us-east-1"
_region_defaulted: list[str] = []  # said once per process, however many clients open


def default_region() -> str:
    """StarCluster's region when none is set anywhere (-r, [aws info], environment, profile)."""
    if not _region_defaulted:
        log.warning("no region set (-r, [aws info] AWS_REGION_NAME, AWS_DEFAULT_REGION or an AWS "
                    "profile): using %s, as StarCluster did", DEFAULT_REGION)
        _region_defaulted.append(DEFAULT_REGION)
    return DEFAULT_REGION


class EC2:
    """A region of EC2 (or of an EC2-compatible endpoint): sclust's `Cloud`."""

    def __init__(self, aws: AwsSettings, region: str | None = None) -> None:
        session = boto3.Session(
            aws_access_key_id=aws.access_key_id,
            aws_secret_access_key=aws.secret_access_key,
            aws_session_token=aws.session_token,
            region_name=region or aws.region,
            profile_name=aws.profile,
        )
        if session.region_name is None and aws.endpoint_url is None:
            session = boto3.Session(
                aws_access_key_id=aws.access_key_id,
                aws_secret_access_key=aws.secret_access_key,
                aws_session_token=aws.session_token,
                region_name=default_region(),
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
        self._session, self._config, self._aws = session, config, aws
        self.region: str = self.client.meta.region_name
        self.sleep: Callable[[float], None] = time.sleep

    def client_for(self, service: str) -> Any:
        """A boto3 client of another service (scheduler, iam) with this one's credentials,
        region, endpoint and retries: for the modules that speak those services."""
        with ec2_errors(f"connecting to {service}"):
            return self._session.client(service, region_name=self.region,
                                        endpoint_url=self._aws.endpoint_url,
                                        config=self._config, verify=self._aws.verify_certs)

    def _paginate(self, operation: str, key: str, **kwargs: Any) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        for page in self.client.get_paginator(operation).paginate(**kwargs):
            items.extend(page[key])
        return items

    def _instances(self, **kwargs: Any) -> list[Instance]:
        reservations = self._paginate("describe_instances", "Reservations", **kwargs)
        return [instance_from(i) for r in reservations for i in r["Instances"]]

    # ---- key pairs -------------------------------------------------------------------------

    def key_fingerprint(self, name: str) -> str | None:
        """The EC2 fingerprint of key pair NAME, or None when it does not exist."""
        try:
            reply = self.client.describe_key_pairs(KeyNames=[name])
        except botocore.exceptions.ClientError as error:
            if error_code(error) == "InvalidKeyPair.NotFound":
                return None
            raise translate(error, f"looking up key pair {name!r}") from error
        return str(reply["KeyPairs"][0].get("KeyFingerprint", ""))

    def import_key_pair(self, name: str, public_key: bytes) -> None:
        with ec2_errors(f"importing key pair {name!r}"):
            self.client.import_key_pair(KeyName=name, PublicKeyMaterial=public_key)

    def create_key_pair(self, name: str) -> str:
        with ec2_errors(f"creating key pair {name!r}"):
            return str(self.client.create_key_pair(KeyName=name, KeyType="ed25519")["KeyMaterial"])

    # ---- network, security groups ----------------------------------------------------------

    def subnet_for(self, subnet_id: str | None, zone: str | None) -> Subnet:
        """SUBNET_ID's subnet, or the default VPC's subnet in ZONE (or any zone)."""
        if subnet_id:
            with ec2_errors(f"looking up subnet {subnet_id}"):
                reply = self.client.describe_subnets(SubnetIds=[subnet_id])
            return subnet_from(reply["Subnets"][0])
        return self.default_subnets(zone)[0]

    def default_subnets(self, zone: str | None = None) -> list[Subnet]:
        """Default-VPC subnets (ZONE's first when given), one per zone."""
        with ec2_errors("looking up the default VPC's subnets"):
            subnets = [subnet_from(s) for s in self.client.describe_subnets(
                Filters=[{"Name": "default-for-az", "Values": ["true"]}])["Subnets"]]
        if zone:
            subnets = [s for s in subnets if s.zone == zone] + [
                s for s in subnets if s.zone != zone]
            if not subnets or subnets[0].zone != zone:
                raise CloudError(
                    f"no default subnet in zone {zone} of {self.region}: set SUBNET_ID, or check "
                    "AVAILABILITY_ZONE"
                )
        if not subnets:
            raise CloudError(
                f"region {self.region} has no default VPC subnets: set SUBNET_ID in the template"
            )
        return sorted(subnets, key=lambda s: s.zone != zone)

    def create_security_group(self, name: str, description: str, vpc_id: str | None,
                              tags: dict[str, str], rules: list[Rule]) -> str:
        """A group NAME tagged TAGS (at creation), open as RULES say; returns its id."""
        kwargs: dict[str, Any] = {
            "GroupName": name, "Description": description,
            "TagSpecifications": [{"ResourceType": "security-group", "Tags": tag_list(tags)}],
        }
        if vpc_id:
            kwargs["VpcId"] = vpc_id
        with ec2_errors(f"creating security group {name}"):
            group_id = str(self.client.create_security_group(**kwargs)["GroupId"])
        if rules:
            with ec2_errors(f"opening the ports of {name}"):
                self.client.authorize_security_group_ingress(
                    GroupId=group_id, IpPermissions=[permission_of(r, group_id) for r in rules])
        return group_id

    def ensure_ingress(self, group_id: str, rules: list[Rule]) -> int:
        """Add the RULES GROUP_ID lacks (an interrupted start can leave a group without any);
        returns how many were added."""
        with ec2_errors(f"reading the rules of security group {group_id}"):
            groups = self.client.describe_security_groups(GroupIds=[group_id])["SecurityGroups"]
        present = {key for permission in (groups[0].get("IpPermissions", []) if groups else [])
                   for key in permission_keys(permission)}
        missing = [permission_of(r, group_id) for r in rules]
        missing = [p for p in missing if not permission_keys(p) <= present]
        if missing:
            with ec2_errors(f"opening the ports of security group {group_id}"):
                self.client.authorize_security_group_ingress(GroupId=group_id,
                                                             IpPermissions=missing)
        return len(missing)

    def find_security_groups(self, tag: str, value: str | None = None) -> list[SecurityGroup]:
        """Groups tagged TAG (= VALUE when given)."""
        with ec2_errors("looking up security groups"):
            groups = self.client.describe_security_groups(
                Filters=[tag_filter(tag, value)])["SecurityGroups"]
        return [SecurityGroup(g["GroupId"], g.get("VpcId"), tags_of(g), g.get("GroupName", ""))
                for g in groups]

    def find_groups_named(self, prefix: str) -> list[SecurityGroup]:
        """Groups whose name starts with PREFIX (StarCluster's `@sc-…`): EC2's name filter
        takes a wildcard; the prefix is checked again here (endpoints differ)."""
        with ec2_errors("looking up security groups"):
            groups = self._paginate("describe_security_groups", "SecurityGroups",
                                    Filters=[{"Name": "group-name", "Values": [prefix + "*"]}])
        return [SecurityGroup(g["GroupId"], g.get("VpcId"), tags_of(g), g.get("GroupName", ""))
                for g in groups if str(g.get("GroupName", "")).startswith(prefix)]

    def default_security_group(self, vpc_id: str) -> str:
        with ec2_errors("looking up the VPC's default security group"):
            groups = self.client.describe_security_groups(
                Filters=[{"Name": "vpc-id", "Values": [vpc_id]},
                         {"Name": "group-name", "Values": ["default"]}]
            )["SecurityGroups"]
        if not groups:
            raise CloudError(f"VPC {vpc_id} has no default security group")
        return str(groups[0]["GroupId"])

    def delete_security_group(self, group_id: str, timeout: float = 300) -> None:
        """Delete a group, retrying while EC2 still counts terminating instances in it."""
        deadline = time.monotonic() + timeout
        delay = 2.0
        while True:
            try:
                self.client.delete_security_group(GroupId=group_id)
                return
            except botocore.exceptions.ClientError as error:
                code = error_code(error)
                if code == "InvalidGroup.NotFound":
                    return
                if code != "DependencyViolation" or time.monotonic() > deadline:
                    raise translate(error, f"deleting security group {group_id}") from error
                log.info("security group %s still in use; retrying in %.0f s", group_id, delay)
                self.sleep(delay)
                delay = min(delay * 1.5, 15)

    # ---- tags ------------------------------------------------------------------------------

    def create_tags(self, resource_ids: list[str], tags: dict[str, str]) -> None:
        """TAGS on every one of RESOURCE_IDS (one call), retried while a fresh instance is not
        yet visible to CreateTags."""
        if not resource_ids or not tags:
            return
        delay, deadline = 0.5, time.monotonic() + 60
        while True:
            try:
                self.client.create_tags(Resources=resource_ids, Tags=tag_list(tags))
                return
            except botocore.exceptions.ClientError as error:
                if error_code(error) != NOT_YET_VISIBLE or time.monotonic() > deadline:
                    raise translate(error, "tagging " + ", ".join(resource_ids)) from error
                self.sleep(delay)
                delay = min(delay * 2, 5)

    def delete_tags(self, resource_ids: list[str], keys: list[str]) -> None:
        if resource_ids and keys:
            with ec2_errors("removing tags of " + ", ".join(resource_ids)):
                self.client.delete_tags(Resources=resource_ids, Tags=[{"Key": k} for k in keys])

    # ---- images, instances -----------------------------------------------------------------

    def describe_image(self, image_id: str) -> Image:
        with ec2_errors(f"looking up image {image_id}"):
            images = self.client.describe_images(ImageIds=[image_id])["Images"]
        if not images:
            raise CloudError(f"image {image_id} does not exist in {self.region} (AMIs are per "
                             "region): check the template's image id")
        image = images[0]
        return Image(image["ImageId"], image.get("Name", ""),
                     image.get("RootDeviceName") or "/dev/sda1")

    def root_device(self, image_id: str) -> str:
        """IMAGE_ID's root device name; /dev/sda1 for an image DescribeImages does not know
        (RunInstances then says what is wrong with it; endpoints such as the local cloud
        accept image ids they do not list)."""
        try:
            reply = self.client.describe_images(ImageIds=[image_id])
        except botocore.exceptions.ClientError as error:
            if error_code(error) not in ("InvalidAMIID.NotFound", "InvalidAMIID.Unavailable"):
                raise translate(error, f"looking up image {image_id}") from error
            return "/dev/sda1"
        images = reply.get("Images") or [{}]
        return str(images[0].get("RootDeviceName") or "/dev/sda1")

    def launch(self, spec: LaunchSpec) -> list[Instance]:
        """One RunInstances call for the whole spec, then the per-instance tags; returns the
        instances in launch-index order (their ids are what later calls use: a tag lookup
        right after a launch can miss fresh instances)."""
        kwargs: dict[str, Any] = {
            "ImageId": spec.image_id,
            "InstanceType": spec.instance_type,
            "MinCount": spec.count,
            "MaxCount": spec.count,
            "KeyName": spec.keyname,
            "TagSpecifications": [{"ResourceType": "instance", "Tags": tag_list(spec.tags)}],
        }
        if spec.volume_tags:
            kwargs["TagSpecifications"].append(
                {"ResourceType": "volume", "Tags": tag_list(spec.volume_tags)})
        if spec.public_ip is None:
            kwargs["SubnetId"] = spec.subnet_id
            kwargs["SecurityGroupIds"] = [spec.security_group_id]
        else:
            # Only an interface spec can overrule the subnet's public-address default.
            kwargs["NetworkInterfaces"] = [{
                "DeviceIndex": 0, "SubnetId": spec.subnet_id,
                "Groups": [spec.security_group_id],
                "AssociatePublicIpAddress": spec.public_ip,
            }]
        if spec.stop_on_shutdown:
            kwargs["InstanceInitiatedShutdownBehavior"] = "stop"
        if spec.spot_bid:
            kwargs["InstanceMarketOptions"] = {
                "MarketType": "spot",
                "SpotOptions": {"MaxPrice": f"{spec.spot_bid:.4f}",
                                "SpotInstanceType": "one-time"},
            }
            kwargs["TagSpecifications"].append(
                {"ResourceType": "spot-instances-request",
                 "Tags": tag_list(spec.volume_tags or spec.tags)})
        if spec.user_data:
            kwargs["UserData"] = spec.user_data
        if spec.root_volume_size:
            # The image's own root device: any other name adds a second disk.
            root = self.root_device(spec.image_id)
            kwargs["BlockDeviceMappings"] = [{
                "DeviceName": root,
                "Ebs": {"VolumeSize": spec.root_volume_size, "VolumeType": "gp3",
                        "DeleteOnTermination": True},
            }]
        with ec2_errors(f"launching {spec.count} × {spec.instance_type}"):
            reply = self.client.run_instances(**kwargs)
        instances = sorted((instance_from(i) for i in reply["Instances"]),
                           key=lambda i: i.launch_index)
        for instance in instances:
            instance.tags = {**spec.tags, **instance.tags}
        named = [(i, each) for i, each in zip(instances, spec.each_tags, strict=False) if each]
        if named:
            # One CreateTags per instance (their values differ), a few at a time.
            with ThreadPoolExecutor(max_workers=min(8, len(named))) as pool:
                list(pool.map(lambda pair: self.create_tags([pair[0].instance_id], pair[1]),
                              named))
            for instance, each in named:
                instance.tags.update(each)
        return instances

    def describe_instances(self, instance_ids: list[str]) -> list[Instance]:
        if not instance_ids:
            return []
        with ec2_errors("describing instances"):
            return self._instances(InstanceIds=instance_ids)

    def find_instances(self, tag: str, value: str | None = None) -> list[Instance]:
        """The live instances tagged TAG (= VALUE when given), in one paginated describe."""
        with ec2_errors("looking up instances"):
            return self._instances(Filters=[
                tag_filter(tag, value),
                {"Name": "instance-state-name", "Values": list(LIVE_STATES)}])

    def instances_in_group(self, group_id: str) -> list[Instance]:
        """The live instances in security group GROUP_ID."""
        with ec2_errors(f"looking up the instances of {group_id}"):
            return [i for i in self._instances(Filters=[
                {"Name": "instance.group-id", "Values": [group_id]},
                {"Name": "instance-state-name", "Values": list(LIVE_STATES)}])
                if group_id in i.security_groups or not i.security_groups]

    def user_data(self, instance_id: str) -> str | None:
        """The user data INSTANCE_ID was launched with (None when it had none)."""
        with ec2_errors(f"reading the user data of {instance_id}"):
            reply = self.client.describe_instance_attribute(
                InstanceId=instance_id, Attribute="userData")
        value = (reply.get("UserData") or {}).get("Value")
        if not value:
            return None
        try:
            return base64.b64decode(value).decode()
        except (binascii.Error, UnicodeDecodeError):
            raise CloudError(f"the user data of {instance_id} is not base64 text") from None

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

    def set_security_groups(self, instance_id: str, group_ids: list[str]) -> None:
        with ec2_errors(f"changing the security groups of {instance_id}"):
            self.client.modify_instance_attribute(InstanceId=instance_id, Groups=group_ids)

    def cancel_spot_requests(self, tag: str, value: str) -> int:
        """Cancel the open spot requests tagged TAG = VALUE; returns how many."""
        with ec2_errors("listing spot requests"):
            requests = self.client.describe_spot_instance_requests(
                Filters=[tag_filter(tag, value),
                         {"Name": "state", "Values": ["open", "active"]}]
            )["SpotInstanceRequests"]
        ids = [r["SpotInstanceRequestId"] for r in requests]
        if ids:
            with ec2_errors("cancelling spot requests"):
                self.client.cancel_spot_instance_requests(SpotInstanceRequestIds=ids)
        return len(ids)

    def _describe_visible(self, instance_ids: list[str]) -> list[Instance]:
        """INSTANCE_IDS as described, leaving out those EC2 does not show yet (a fresh launch:
        DescribeInstances by id answers InvalidInstanceID.NotFound for the whole call)."""
        try:
            return self._instances(InstanceIds=instance_ids)
        except botocore.exceptions.ClientError as error:
            if error_code(error) != NOT_YET_VISIBLE:
                raise translate(error, "describing instances") from error
        with ec2_errors("describing instances"):
            return self._instances(
                Filters=[{"Name": "instance-id", "Values": instance_ids}])

    def wait_for_instances(
        self, instance_ids: list[str], state: str, timeout: float, *,
        need_address: bool = False, max_interval: float = 5.0,
        name: Callable[[Instance], str] | None = None,
        on_poll: Callable[[int, int], None] | None = None,
    ) -> list[Instance]:
        """Poll (one describe per round, backing off to MAX_INTERVAL) until every instance is
        in STATE (with an address if NEED_ADDRESS); return them. Instances EC2 does not show
        yet are waited for; on timeout the laggards are named with their state."""
        if not instance_ids:
            return []
        label = name or (lambda i: i.instance_id)
        deadline = time.monotonic() + timeout
        interval = min(0.5, max_interval)
        while True:
            found = {i.instance_id: i for i in self._describe_visible(instance_ids)}
            ready = [i for i in found.values()
                     if i.state == state and (i.address or not need_address)]
            if on_poll:
                on_poll(len(ready), len(instance_ids))
            if len(ready) == len(instance_ids):
                return [found[i] for i in instance_ids]
            if state == "running":
                dead = [i for i in found.values() if i.state in FAILED_WHILE_STARTING]
                if dead:
                    names = ", ".join(f"{label(i)} ({i.instance_id}: {i.state})" for i in dead)
                    raise CloudError(
                        f"instances ended while starting: {names} — see the EC2 console for"
                        " the reason (often capacity or a spot interruption)"
                    )
            if time.monotonic() > deadline:
                late = []
                for instance_id in instance_ids:
                    instance = found.get(instance_id)
                    if instance is None:
                        late.append(f"{instance_id} (not found yet)")
                    elif instance not in ready:
                        detail = instance.state if instance.state != state else "no address"
                        late.append(f"{label(instance)} ({instance_id}: {detail})")
                raise WaitTimeout(
                    f"timed out after {timeout:.0f} s waiting for {len(instance_ids)} "
                    f"instance(s) to be {state}; still waiting for: {', '.join(late)}"
                )
            self.sleep(interval)
            interval = min(interval * 1.5, max_interval)

    # ---- volumes ---------------------------------------------------------------------------

    def describe_volumes(self, volume_ids: list[str]) -> list[Volume]:
        if not volume_ids:
            return []
        with ec2_errors("looking up volumes " + ", ".join(volume_ids)):
            return [volume_from(v) for v in
                    self.client.describe_volumes(VolumeIds=volume_ids)["Volumes"]]

    def attach_volume(self, volume_id: str, instance_id: str, device: str) -> None:
        with ec2_errors(f"attaching {volume_id} to {instance_id} as {device}"):
            self.client.attach_volume(VolumeId=volume_id, InstanceId=instance_id, Device=device)

    # ---- Elastic IPs, quotas ---------------------------------------------------------------

    def describe_addresses(self) -> list[Address]:
        """Every Elastic IP of the region (quota checks need their count)."""
        with ec2_errors("looking up Elastic IPs"):
            return [address_from(a) for a in self.client.describe_addresses()["Addresses"]]

    def allocate_address(self, tags: dict[str, str]) -> Address:
        """One Elastic IP, tagged at creation."""
        with ec2_errors("allocating an Elastic IP" + (f" ({tags['Name']})"
                                                      if "Name" in tags else "")):
            reply = self.client.allocate_address(
                Domain="vpc",
                TagSpecifications=[{"ResourceType": "elastic-ip", "Tags": tag_list(tags)}])
        return Address(reply["AllocationId"], reply["PublicIp"], tags=dict(tags))

    def associate_address(self, address: Address, instance_id: str) -> None:
        with ec2_errors(f"associating {address.public_ip} with {instance_id}"):
            reply = self.client.associate_address(
                AllocationId=address.allocation_id, InstanceId=instance_id,
                AllowReassociation=True)
        address.instance_id, address.association_id = instance_id, reply.get("AssociationId")

    def release_address(self, address: Address) -> None:
        """Disassociate (if needed) and release one Elastic IP."""
        if address.association_id:
            with ec2_errors(f"disassociating {address.public_ip}"):
                self.client.disassociate_address(AssociationId=address.association_id)
        with ec2_errors(f"releasing {address.public_ip}"):
            self.client.release_address(AllocationId=address.allocation_id)

    def address_quota(self) -> int:
        """The region's Elastic IP quota (EC2 reports the Service Quotas value here)."""
        with ec2_errors("reading the Elastic IP quota"):
            reply = self.client.describe_account_attributes(
                AttributeNames=["vpc-max-elastic-ips"])
        for attribute in reply.get("AccountAttributes", []):
            if attribute.get("AttributeName") != "vpc-max-elastic-ips":
                continue  # some endpoints (moto) answer every attribute, not the one asked
            values = attribute.get("AttributeValues") or [{}]
            value = values[0].get("AttributeValue", "")
            if value.isdigit():
                return int(value)
        return 5  # EC2's default when the endpoint does not say


def tag_filter(tag: str, value: str | None) -> dict[str, Any]:
    return ({"Name": f"tag:{tag}", "Values": [value]} if value is not None
            else {"Name": "tag-key", "Values": [tag]})

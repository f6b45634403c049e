"""Changes to moto's EC2 backend, in-process, so every client sees what the local cloud realizes:
our own public/Elastic addresses (never moto's random 54.x / 127.x), EC2's transition states,
the Elastic IP limit, an Elastic IP that stays through stop/start, and refusal of what we
cannot realize. The realizer (`cloud.Cloud`) is told about every state change.

As hard as AWS (switch: `cloud.behaviour`): RunInstances refuses key pairs, AMIs and instance
types that do not exist, AttachVolume another zone's volume, and new instances stay invisible
to DescribeInstances for a moment (eventual consistency). Built-in images, a non-default
subnet without public addresses, and CreateImage that captures the instance's root layer."""

from __future__ import annotations

import ipaddress
import re
import threading
from typing import TYPE_CHECKING, Any

from sclust.localcloud import images
from sclust.localcloud.settings import PUBLIC_RANGE

if TYPE_CHECKING:
    from sclust.localcloud.cloud import Cloud

_installed = False
# Types moto's list lacks but EC2 has (sclust's GPU templates use them).
EXTRA_INSTANCE_TYPES = {"p2.xlarge", "p2.8xlarge", "p2.16xlarge", "p3.2xlarge", "p3.8xlarge",
                        "p3.16xlarge", "p3dn.24xlarge"}
AMI_ID = re.compile(r"^ami-[0-9a-z]{1,32}$")
PRIVATE_SUBNET_CIDR = "172.31.128.0/20"  # after moto's default subnets (172.31.0.0–95.255)
PRIVATE_SUBNET_NAME = "sclust-local-private"


def install(cloud: Cloud) -> None:
    """Patch moto (once per process) to route through `cloud`."""
    global _installed
    if _installed:
        raise RuntimeError("moto is already patched in this process")
    _installed = True

    from moto.ec2.exceptions import EC2ClientError
    from moto.ec2.models import EC2Backend
    from moto.ec2.models import elastic_ip_addresses as eip_module
    from moto.ec2.models import elastic_network_interfaces as eni_module
    from moto.ec2.models.instances import InstanceState, StateReason

    # Addresses are born in our range, before any response is serialized.
    eni_module.random_public_ip = cloud.addresses.take
    eip_module.random_ip = cloud.addresses.take

    def error(code: str, message: str) -> EC2ClientError:
        return EC2ClientError(code, message)

    def check_region(backend: Any) -> None:
        if backend.region_name != cloud.settings.region:
            raise error("UnsupportedOperation",
                        f"the local cloud realizes instances in {cloud.settings.region} only")

    # --- Elastic IPs -------------------------------------------------------------------------
    orig_allocate = EC2Backend.allocate_address

    def allocate_address(self: Any, domain: str, address: str | None = None,
                         tags: dict[str, str] | None = None) -> Any:
        if len(self.addresses) >= cloud.settings.eip_limit:
            raise error("AddressLimitExceeded", "The maximum number of addresses has been reached.")
        if address is not None and ipaddress.IPv4Address(address) not in PUBLIC_RANGE:
            raise error("InvalidParameterValue",
                        f"the local cloud allocates addresses in {PUBLIC_RANGE} only")
        return orig_allocate(self, domain, address=address, tags=tags)

    from moto.core.responses import ActionResult
    from moto.ec2.responses.account_attributes import AccountAttributes

    orig_attributes = AccountAttributes.describe_account_attributes

    def describe_account_attributes(self: Any) -> Any:
        # The Elastic IP quota clients read before allocating is the limit enforced here.
        result = orig_attributes(self).result
        for attribute in result["AccountAttributes"]:  # type: ignore[index]
            if attribute["AttributeName"] in ("max-elastic-ips", "vpc-max-elastic-ips"):
                attribute["AttributeValues"] = [{"AttributeValue": str(cloud.settings.eip_limit)}]
        return ActionResult(result)

    orig_release = EC2Backend.release_address

    def release_address(self: Any, address: str | None = None,
                        allocation_id: str | None = None) -> None:
        eips = (self.address_by_ip([address]) if address
                else self.address_by_allocation([allocation_id]))
        if eips and eips[0].domain == "vpc" and eips[0].association_id:
            # AWS refuses to release an associated VPC address (moto does not).
            raise error("InvalidIPAddress.InUse", f"Address {eips[0].public_ip} is in use.")
        orig_release(self, address=address, allocation_id=allocation_id)

    def eip_of(eni: Any) -> Any:
        return next((a for a in eni.ec2_backend.addresses if a.eni is eni), None)

    orig_eni_stop = eni_module.NetworkInterface.stop
    orig_eni_start = eni_module.NetworkInterface.start

    def eni_stop(self: Any) -> None:
        if eip_of(self) is None:  # an Elastic IP stays through stop (moto drops it)
            orig_eni_stop(self)

    def eni_start(self: Any) -> None:
        eip = eip_of(self)
        if eip is not None:
            self.public_ip = eip.public_ip
        else:
            orig_eni_start(self)

    # --- Instances ---------------------------------------------------------------------------
    from moto.ec2.models.instance_types import INSTANCE_TYPES

    known_types = set(INSTANCE_TYPES) | EXTRA_INSTANCE_TYPES

    def validate_launch(backend: Any, image_id: str | None, kwargs: dict[str, Any]) -> None:
        """What EC2 refuses and moto lets through (only with `behaviour.validation`)."""
        if not cloud.behaviour.validation:
            return
        if image_id:
            if not AMI_ID.match(image_id):
                raise error("InvalidAMIID.Malformed",
                            f'Invalid id: "{image_id}" (expecting "ami-...")')
            ami = backend.amis.get(image_id)
            if ami is None:
                raise error("InvalidAMIID.NotFound",
                            f"The image id '[{image_id}]' does not exist")
            if ami.state != "available":
                raise error("InvalidAMIID.Unavailable",
                            f"The image id '[{image_id}]' is not available (state {ami.state})")
        key_name = kwargs.get("key_name")
        if key_name and key_name not in backend.key_pairs:
            raise error("InvalidKeyPair.NotFound", f"The key pair '{key_name}' does not exist")
        instance_type = kwargs.get("instance_type")
        if not kwargs.get("is_instance_type_default") and instance_type not in known_types:
            raise error("InvalidParameterValue",
                        f"Invalid value '{instance_type}' for InstanceType.")

    # RunInstances with an instance profile that does not exist: EC2's refusal (moto answers
    # with IAM's NoSuchEntity, which no EC2 client expects).
    from moto.ec2.responses import instances as instance_responses

    orig_filter_profiles = instance_responses.filter_iam_instance_profiles

    def filter_iam_instance_profiles(account_id: str, partition: str,
                                     iam_instance_profile_arn: str | None,
                                     iam_instance_profile_name: str | None) -> Any:
        try:
            found = orig_filter_profiles(account_id, partition, iam_instance_profile_arn,
                                         iam_instance_profile_name)
        except Exception:
            found = None
        if found is None:
            if iam_instance_profile_arn:
                raise error("InvalidParameterValue",
                            f"Value ({iam_instance_profile_arn}) for parameter "
                            "iamInstanceProfile.arn is invalid. Invalid IAM Instance Profile "
                            "ARN")
            raise error("InvalidParameterValue",
                        f"Value ({iam_instance_profile_name}) for parameter "
                        "iamInstanceProfile.name is invalid. Invalid IAM Instance Profile name")
        return found

    instance_responses.filter_iam_instance_profiles = filter_iam_instance_profiles
    orig_run = EC2Backend.run_instances

    def run_instances(self: Any, image_id: str, count: int, user_data: Any,
                      security_group_names: list[str], **kwargs: Any) -> Any:
        check_region(self)
        validate_launch(self, image_id, kwargs)
        if not kwargs.get("subnet_id") and not kwargs.get("nics"):
            # As on AWS: no subnet means the default subnet of the zone (moto would invent
            # a random 10.x address outside every subnet).
            defaults = self.get_default_subnets()
            zone = kwargs.get("placement") or sorted(defaults)[0]
            if zone in defaults:
                kwargs["subnet_id"] = defaults[zone].id
        reservation = orig_run(self, image_id, count, user_data, security_group_names, **kwargs)
        problem = cloud.check_realizable(reservation.instances)
        if problem:  # undo the launch entirely: no client ever sees these instances
            for instance in reservation.instances:
                instance.terminate()
            self.reservations.pop(reservation.id, None)
            raise error("Unsupported", problem)
        # moto's response gives the instance profile to the first instance only: every
        # instance of the launch gets it, as on EC2.
        profile_name = kwargs.get("iam_instance_profile_name")
        profile_arn = kwargs.get("iam_instance_profile_arn")
        if profile_name or profile_arn:
            for instance in reservation.instances[1:]:
                self.associate_iam_instance_profile(
                    instance_id=instance.id,
                    **({"iam_instance_profile_arn": profile_arn} if profile_arn
                       else {"iam_instance_profile_name": profile_name}))
        for instance in reservation.instances:
            instance._state = InstanceState("pending", 0)
            cloud.transition_started(instance.id)
        cloud.launched(reservation.instances)
        return reservation

    def setup_defaults(self: Any) -> None:
        # The root volume at the image's root device (moto: always /dev/sda1).
        volume = self.ec2_backend.create_volume(size=8, zone_name=self._placement.zone)
        self.ec2_backend.attach_volume(volume.id, self.id, self.root_device_name, True)

    # --- Volumes -----------------------------------------------------------------------------
    orig_attach = EC2Backend.attach_volume

    def attach_volume(self: Any, volume_id: str, instance_id: str, device_path: str,
                      delete_on_termination: bool = False) -> Any:
        if cloud.behaviour.validation:
            volume = self.get_volume(volume_id)
            instance = self.get_instance(instance_id)
            if volume.attachment is not None:
                raise error("VolumeInUse", f"{volume_id} is already attached to an instance")
            if volume.zone is not None and volume.zone.name != instance.availability_zone:
                raise error("InvalidVolume.ZoneMismatch",
                            f"The volume '{volume_id}' is not in the same availability zone "
                            f"as instance '{instance_id}'")
            if device_path in instance.block_device_mapping:
                raise error("InvalidParameterValue",
                            f"Invalid value '{device_path}' for unixDevice. Attachment point "
                            f"{device_path} is already in use")
        return orig_attach(self, volume_id, instance_id, device_path,
                           delete_on_termination=delete_on_termination)

    # --- Eventual consistency of DescribeInstances --------------------------------------------
    from moto.ec2.exceptions import InvalidInstanceIdError
    from moto.ec2.responses.instances import InstanceResponse

    describing = threading.local()

    def hiding_new(response_method: Any) -> Any:
        def wrapper(self: Any) -> Any:
            describing.active = True
            try:
                return response_method(self)
            finally:
                describing.active = False
        return wrapper

    def hide(instances: list[Any]) -> list[Any]:
        return [i for i in instances if not cloud.not_yet_visible(i.id)]

    def refuse_new(instance_ids: list[str]) -> None:
        young = [i for i in instance_ids if cloud.not_yet_visible(i)]
        if young:
            raise InvalidInstanceIdError(young)

    orig_by_ids = EC2Backend.get_reservations_by_instance_ids
    orig_describe = EC2Backend.describe_instances
    orig_multi = EC2Backend.get_multi_instances_by_id
    orig_all_instances = EC2Backend.all_instances
    orig_all_running = EC2Backend.all_running_instances

    def get_reservations_by_instance_ids(self: Any, instance_ids: list[str],
                                         filters: Any = None) -> Any:
        if getattr(describing, "active", False):
            refuse_new(instance_ids)
        return orig_by_ids(self, instance_ids, filters=filters)

    def describe_instances(self: Any, filters: Any = None) -> Any:
        reservations = orig_describe(self, filters=filters)
        if not getattr(describing, "active", False):
            return reservations
        visible = []
        for reservation in reservations:  # moto's are copies: safe to change
            reservation.instances = hide(reservation.instances)
            if reservation.instances:
                visible.append(reservation)
        return visible

    def get_multi_instances_by_id(self: Any, instance_ids: list[str],
                                  filters: Any = None) -> Any:
        if getattr(describing, "active", False):
            refuse_new(instance_ids)
        return orig_multi(self, instance_ids, filters)

    def all_instances(self: Any, filters: Any = None) -> Any:
        found = orig_all_instances(self, filters)
        return hide(found) if getattr(describing, "active", False) else found

    def all_running_instances(self: Any, filters: Any = None) -> Any:
        found = orig_all_running(self, filters)
        return hide(found) if getattr(describing, "active", False) else found

    # --- Images ------------------------------------------------------------------------------
    orig_create_image = EC2Backend.create_image

    def create_image(self: Any, instance_id: str, name: str, description: str,
                     tag_specifications: list[dict[str, Any]]) -> Any:
        instance = self.get_instance(instance_id)
        if instance._state.name not in ("running", "stopped"):
            raise error("IncorrectInstanceState", f"The instance '{instance_id}' is not in a "
                        "state from which an image can be created.")
        if name and any(a.name == name and a.owner_id == self.account_id
                        for a in self.amis.values()):
            raise error("InvalidAMIName.Duplicate",
                        f"AMI name {name} is already in use by AMI")
        ami = orig_create_image(self, instance_id, name, description,
                                tag_specifications=tag_specifications)
        ami.root_device_name = instance.root_device_name
        cloud.capture_image(instance, ami)
        return ami

    def refuse_terminated(instances: list[Any], action: str) -> None:
        for instance in instances:
            if instance._state.name in ("terminated", "shutting-down"):
                raise error("IncorrectInstanceState", f"The instance '{instance.id}' is not "
                            f"in a state from which it can be {action}.")

    def change_states(instances: list[Any], already: tuple[str, ...], move: Any,
                      name: str, code: int) -> list[Any]:
        """Move each instance (moto's own start/stop) into transition state `name`, except
        those already where asked (reported unchanged, as EC2 does)."""
        result = []
        for instance in instances:
            if instance._state.name in already:
                result.append((instance, InstanceState(instance._state.name, instance._state.code)))
                continue
            previous = move(instance)
            instance._state = InstanceState(name, code)
            cloud.transition_started(instance.id)
            result.append((instance, previous))
        return result

    def start_instances(self: Any, instance_ids: list[str]) -> Any:
        instances = self.get_multi_instances_by_id(instance_ids)
        refuse_terminated(instances, "started")
        for instance in instances:
            if instance._state.name == "stopping":
                raise error("IncorrectInstanceState", f"The instance '{instance.id}' is not "
                            "in a state from which it can be started.")
        return change_states(instances, ("pending", "running"), lambda i: i.start(),
                             "pending", 0)

    orig_stop = EC2Backend.stop_instances

    def stop_instances(self: Any, instance_ids: list[str]) -> Any:
        instances = self.get_multi_instances_by_id(instance_ids)
        refuse_terminated(instances, "stopped")
        protected = [i.id for i in instances if i.disable_api_stop is True]
        if protected:
            orig_stop(self, protected)  # raises moto's OperationDisableApiStopNotPermitted
        return change_states(instances, ("stopping", "stopped"), lambda i: i.stop(),
                             "stopping", 64)

    orig_terminate = EC2Backend.terminate_instances

    def terminate_instances(self: Any, instance_ids: list[str]) -> Any:
        result = orig_terminate(self, instance_ids)
        for instance, previous in result:
            if previous.name == "terminated":
                instance._state = InstanceState("terminated", 48)
                continue
            instance._state = InstanceState("shutting-down", 32)
            cloud.transition_started(instance.id)
        return result

    def reboot_instances(self: Any, instance_ids: list[str]) -> Any:
        instances = self.get_multi_instances_by_id(instance_ids)
        refuse_terminated(instances, "rebooted")
        for instance in instances:
            if instance._state.name == "running":
                cloud.request_reboot(instance.id)
        return instances

    def mark_failed(instance: Any, message: str) -> None:
        """An instance whose host could not be realized ends like a failed EC2 launch."""
        instance.terminate()
        instance._state = InstanceState("terminated", 48)
        instance.state_reason = StateReason(f"Server.InternalError: {message}",
                                            "Server.InternalError")

    def guest_shutdown(instance: Any) -> str:
        """`poweroff` inside a host: EC2's InstanceInitiatedShutdownBehavior (default stop)."""
        if instance.instance_initiated_shutdown_behavior == "terminate":
            instance.ec2_backend.terminate_instances([instance.id])
            return str(instance._state.name)
        instance.stop()
        code = "Client.InstanceInitiatedShutdown"
        instance.state_reason = StateReason(f"{code}: Instance initiated shutdown", code)
        instance._state = InstanceState("stopping", 64)
        cloud.transition_started(instance.id)
        return "stopping"

    cloud.mark_failed = mark_failed
    cloud.guest_shutdown = guest_shutdown
    cloud.state_class = InstanceState

    EC2Backend.allocate_address = allocate_address
    AccountAttributes.describe_account_attributes = describe_account_attributes
    EC2Backend.release_address = release_address
    eni_module.NetworkInterface.stop = eni_stop
    eni_module.NetworkInterface.start = eni_start
    EC2Backend.run_instances = run_instances
    from moto.ec2.models.instances import Instance

    Instance.setup_defaults = setup_defaults
    EC2Backend.attach_volume = attach_volume
    EC2Backend.get_reservations_by_instance_ids = get_reservations_by_instance_ids
    EC2Backend.describe_instances = describe_instances
    EC2Backend.get_multi_instances_by_id = get_multi_instances_by_id
    EC2Backend.all_instances = all_instances
    EC2Backend.all_running_instances = all_running_instances
    InstanceResponse.describe_instances = hiding_new(InstanceResponse.describe_instances)
    InstanceResponse.describe_instance_status = hiding_new(
        InstanceResponse.describe_instance_status)
    EC2Backend.create_image = create_image

    EC2Backend.start_instances = start_instances
    EC2Backend.stop_instances = stop_instances
    EC2Backend.terminate_instances = terminate_instances
    EC2Backend.reboot_instances = reboot_instances

    # What the region holds from the start: the built-in images, and next to the default VPC's
    # default subnets a non-default one that gives no public addresses.
    backend = cloud._backend()
    images.register_builtin(backend)
    default_vpc = next(v for v in backend.vpcs.values() if v.is_default)
    subnet = backend.create_subnet(default_vpc.id, PRIVATE_SUBNET_CIDR,
                                   availability_zone=cloud.settings.region + "a")
    subnet.map_public_ip_on_launch = False
    subnet.add_tag("Name", PRIVATE_SUBNET_NAME)

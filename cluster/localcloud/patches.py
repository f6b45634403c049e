"""Changes to moto's EC2 backend, in-process, so every client sees what the local cloud realizes:
our own public/Elastic addresses (never moto's random 54.x / 127.x), EC2's transition states,
the Elastic IP limit, an Elastic IP that stays through stop/start, and refusal of what we
cannot realize. The realizer (`cloud.Cloud`) is told about every state change."""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING, Any

from sclust.localcloud.settings import PUBLIC_RANGE

if TYPE_CHECKING:
    from sclust.localcloud.cloud import Cloud

_installed = False


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
    orig_run = EC2Backend.run_instances

    def run_instances(self: Any, image_id: str, count: int, user_data: Any,
                      security_group_names: list[str], **kwargs: Any) -> Any:
        check_region(self)
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
        for instance in reservation.instances:
            instance._state = InstanceState("pending", 0)
            cloud.transition_started(instance.id)
        return reservation

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

    cloud.mark_failed = mark_failed  # type: ignore[method-assign]
    cloud.guest_shutdown = guest_shutdown
    cloud.state_class = InstanceState

    EC2Backend.allocate_address = allocate_address
    AccountAttributes.describe_account_attributes = describe_account_attributes
    EC2Backend.release_address = release_address
    eni_module.NetworkInterface.stop = eni_stop
    eni_module.NetworkInterface.start = eni_start
    EC2Backend.run_instances = run_instances
    EC2Backend.start_instances = start_instances
    EC2Backend.stop_instances = stop_instances
    EC2Backend.terminate_instances = terminate_instances
    EC2Backend.reboot_instances = reboot_instances

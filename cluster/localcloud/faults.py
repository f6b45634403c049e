"""Faults a test (or a curious user) arms in a running local cloud with `sclust local inject`:
what AWS does to software at its worst moments, on demand.

- `capacity`: RunInstances of a type (and zone) fails with InsufficientInstanceCapacity (500);
- `throttle`: requests (of one action, or every EC2 action) fail with RequestLimitExceeded (503);
- `instance-limit`: RunInstances that would exceed N live instances fails with
  InstanceLimitExceeded;
- `no-ssh`: the next instances launched never answer SSH (port 22 accepts, no banner comes);
- `slow-boot`: the next instances launched are `running` but start sshd only after S seconds.

Each fault lasts for `times` matching requests (or instances), and/or `seconds`, or until
cleared."""

from __future__ import annotations

import threading
import time
from dataclasses import asdict, dataclass, field
from typing import Any

KINDS = ("capacity", "throttle", "instance-limit", "no-ssh", "slow-boot")
REQUEST_KINDS = ("capacity", "throttle", "instance-limit")


@dataclass
class Fault:
    id: int
    kind: str
    action: str | None = None  # throttle: the action (None: every EC2 action)
    instance_type: str | None = None  # capacity: the type (None: every type)
    zone: str | None = None  # capacity: the zone (None: every zone)
    limit: int | None = None  # instance-limit: live instances allowed
    seconds: float | None = None  # slow-boot: delay of sshd
    times: int | None = None  # how many more requests/instances it hits (None: no count)
    until: float | None = None  # wall-clock expiry (None: none)
    hits: int = 0

    def expired(self, now: float) -> bool:
        return (self.times is not None and self.times <= 0) or \
            (self.until is not None and now >= self.until)

    def public(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}


@dataclass
class BootFaults:
    """What a launched instance's host does wrong at every boot."""

    no_ssh: bool = False
    ssh_delay: float = 0.0


@dataclass
class EC2Error:
    status: int
    code: str
    message: str


@dataclass
class Faults:
    _faults: list[Fault] = field(default_factory=list)
    _next: int = 1
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def arm(self, spec: dict[str, Any]) -> Fault:
        """A fault from {'kind', and its options}; ValueError if it makes no sense."""
        kind = spec.get("kind")
        if kind not in KINDS:
            raise ValueError(f"unknown fault kind {kind!r} (one of {', '.join(KINDS)})")
        times = _opt_int(spec, "times", minimum=1)
        seconds_for = _opt_float(spec, "for")
        fault = Fault(0, kind, times=times,
                      until=time.time() + seconds_for if seconds_for is not None else None)
        if kind == "capacity":
            fault.instance_type = _opt_str(spec, "instance_type")
            fault.zone = _opt_str(spec, "zone")
        elif kind == "throttle":
            fault.action = _opt_str(spec, "action")
        elif kind == "instance-limit":
            fault.limit = _opt_int(spec, "limit", minimum=0)
            if fault.limit is None:
                raise ValueError("instance-limit needs a limit")
        elif kind == "slow-boot":
            fault.seconds = _opt_float(spec, "seconds")
            if fault.seconds is None or not 0 < fault.seconds <= 3600:
                raise ValueError("slow-boot needs seconds (0 < s ≤ 3600)")
        if kind in ("no-ssh", "slow-boot") and fault.times is None and fault.until is None:
            fault.times = 1  # the next instance launched
        with self._lock:
            fault.id = self._next
            self._next += 1
            self._faults.append(fault)
        return fault

    def clear(self, fault_id: int | None = None) -> int:
        with self._lock:
            before = len(self._faults)
            self._faults = [f for f in self._faults if fault_id is not None and f.id != fault_id]
            return before - len(self._faults)

    def listing(self) -> list[dict[str, Any]]:
        with self._lock:
            self._prune()
            return [f.public() for f in self._faults]

    def _prune(self) -> None:
        now = time.time()
        self._faults = [f for f in self._faults if not f.expired(now)]

    def _hit(self, fault: Fault) -> None:
        fault.hits += 1
        if fault.times is not None:
            fault.times -= 1

    # --- consulted by the endpoint and the RunInstances patch -------------------------------------
    def for_request(self, action: str | None, service: str) -> EC2Error | None:
        """Throttling of this request, if armed."""
        if service != "ec2" or not action:
            return None
        with self._lock:
            self._prune()
            for fault in self._faults:
                if fault.kind == "throttle" and fault.action in (None, action):
                    self._hit(fault)
                    return EC2Error(503, "RequestLimitExceeded", "Request limit exceeded.")
        return None

    def for_launch(self, instance_type: str, zone: str, count: int, live: int) -> EC2Error | None:
        """A capacity or limit error for RunInstances of COUNT × TYPE in ZONE with LIVE live
        instances, if armed."""
        with self._lock:
            self._prune()
            for fault in self._faults:
                if fault.kind == "capacity" and fault.instance_type in (None, instance_type) \
                        and fault.zone in (None, zone):
                    self._hit(fault)
                    return EC2Error(500, "InsufficientInstanceCapacity",
                                    f"We currently do not have sufficient {instance_type} "
                                    f"capacity in the Availability Zone you requested ({zone}). "
                                    "Our system will be working on provisioning additional "
                                    f"capacity. You can currently get {instance_type} capacity "
                                    "by not specifying an Availability Zone in your request or "
                                    "choosing another zone.")
                if fault.kind == "instance-limit" and fault.limit is not None \
                        and live + count > fault.limit:
                    self._hit(fault)
                    return EC2Error(400, "InstanceLimitExceeded",
                                    f"You have requested more instances ({live + count}) than "
                                    f"your current instance limit of {fault.limit} allows for "
                                    "the specified instance type. Please visit "
                                    "http://aws.amazon.com/contact-us/ec2-request to request an "
                                    "adjustment to this limit.")
        return None

    def for_boot(self) -> BootFaults:
        """The boot faults of one instance being launched (consumes armed ones)."""
        result = BootFaults()
        with self._lock:
            self._prune()
            for fault in self._faults:
                if fault.kind == "no-ssh" and not result.no_ssh:
                    result.no_ssh = True
                    self._hit(fault)
                elif fault.kind == "slow-boot" and not result.ssh_delay:
                    result.ssh_delay = float(fault.seconds or 0)
                    self._hit(fault)
        return result


def _opt_str(spec: dict[str, Any], key: str) -> str | None:
    value = spec.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value or len(value) > 64:
        raise ValueError(f"{key} must be a short string")
    return value


def _opt_int(spec: dict[str, Any], key: str, minimum: int) -> int | None:
    value = spec.get(key)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or not minimum <= value <= 100000:
        raise ValueError(f"{key} must be an integer ≥ {minimum}")
    return value


def _opt_float(spec: dict[str, Any], key: str) -> float | None:
    value = spec.get(key)
    if value is None:
        return None
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not 0 < value <= 86400:
        raise ValueError(f"{key} must be a number of seconds")
    return float(value)

"""Where the local cloud keeps its files and which address ranges it owns."""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

# The emulated default VPC (moto's) and the local cloud's "internet" range, in 198.18.0.0/15, the
# RFC 2544 benchmark space: never routed on the internet, so no real host can be hit by mistake.
PRIVATE_RANGE = ipaddress.IPv4Network("172.31.0.0/16")
PUBLIC_RANGE = ipaddress.IPv4Network("198.18.0.0/16")
OWN_RANGES = (PRIVATE_RANGE, PUBLIC_RANGE)
# The bridge holds the VPC router address (as on AWS, .1 of the VPC) and the first public address.
BRIDGE_NAME = "sclbr0"
BRIDGE_PRIVATE_IP = ipaddress.IPv4Address("172.31.0.1")
BRIDGE_PUBLIC_IP = ipaddress.IPv4Address("198.18.0.1")

REGION = "us-east-1"
DEFAULT_EIP_LIMIT = 5
# How long `pending`/`stopping`/`shutting-down` last at least, so waiters see them.
DEFAULT_MIN_TRANSITION = 0.5
# How long a new instance stays invisible to DescribeInstances (EC2 is eventually consistent).
DEFAULT_CONSISTENCY_DELAY = 1.0
# Root of every host is this uid (and gid) of the machine, its user N is HOST_ID_BASE + N: the
# hosts' user namespaces map 0…65535 there (launch.py). Far above any account of the machine.
HOST_ID_BASE = 1_000_000_000
DEFAULT_ROLE_SESSION_SECONDS = 6 * 3600
# One local cloud per machine: its bridge and routes are machine-wide.
MACHINE_LOCK = Path("/run/sclust-localcloud.lock")


@dataclass(frozen=True)
class LocalEndpoint:
    """How to reach the local cloud with boto3 (`endpoint_url=url`, these keys, this region)."""

    url: str
    region: str
    access_key: str
    secret_key: str


def state_dir(explicit: Path | None = None) -> Path:
    """The local cloud's directory: explicit, else $SCLUST_LOCAL_DIR, else $SCLUST_HOME/local."""
    if explicit is not None:
        return Path(explicit).absolute()
    env = os.environ.get("SCLUST_LOCAL_DIR")
    if env:
        return Path(env).absolute()
    from sclust.paths import sclust_home

    return sclust_home() / "local"


def in_own_ranges(address: str) -> bool:
    """True when `address` lies in one of the ranges the local cloud routes into its bridge."""
    try:
        ip = ipaddress.IPv4Address(address)
    except ValueError:
        return False
    return any(ip in net for net in OWN_RANGES)


@dataclass(frozen=True)
class DaemonSettings:
    """Knobs read once when the daemon starts (from the environment of `sclust local up`)."""

    eip_limit: int = DEFAULT_EIP_LIMIT
    min_transition: float = DEFAULT_MIN_TRANSITION
    region: str = REGION
    # How long the role credentials IMDS hands an instance are valid (SCLUST_LOCAL_ROLE_SESSION
    # _SECONDS, as EC2: 6 hours); fresh ones are served once a sixth of that has passed.
    role_session_seconds: int = DEFAULT_ROLE_SESSION_SECONDS

    @classmethod
    def from_env(cls) -> DaemonSettings:
        return cls(
            role_session_seconds=int(os.environ.get("SCLUST_LOCAL_ROLE_SESSION_SECONDS",
                                                    DEFAULT_ROLE_SESSION_SECONDS)),
            eip_limit=int(os.environ.get("SCLUST_LOCAL_EIP_LIMIT", DEFAULT_EIP_LIMIT)),
            min_transition=float(
                os.environ.get("SCLUST_LOCAL_MIN_TRANSITION", DEFAULT_MIN_TRANSITION)
            ),
        )


@dataclass
class Behaviour:
    """How hard the local cloud is, as AWS is by default; each switch changeable while it runs
    (`sclust local set`, POST /_sclust/settings), first read from the environment of `up`:

    - `validation` (SCLUST_LOCAL_VALIDATION, default 1): RunInstances refuses key pairs, AMIs,
      instance types and subnets that do not exist; AttachVolume refuses another zone's volume.
    - `consistency_delay` (SCLUST_LOCAL_CONSISTENCY_DELAY, seconds, default 1.0; 0 = off): a new
      instance is missing from DescribeInstances/DescribeInstanceStatus for that long, and
      asking for it by id answers InvalidInstanceID.NotFound.
    - `clock_offset` (seconds, default 0; changeable only while it runs): added to the clock
      of the EventBridge Scheduler runner (sclust.localcloud.schedules) alone, so that a test
      reaches a schedule's time without waiting for it.
    - `iam_enforcement` (SCLUST_LOCAL_IAM_ENFORCEMENT, default 1): a request signed by an IAM
      user's access keys or a role's session credentials is allowed or refused by that
      identity's policies, as AWS would (actions, resource ARNs, explicit Deny first, tag
      conditions; see iam_eval.py). Off: every valid signature may do everything. The local
      cloud's own credentials always may, as an account's root."""

    validation: bool = True
    consistency_delay: float = DEFAULT_CONSISTENCY_DELAY
    clock_offset: float = 0.0
    iam_enforcement: bool = True

    @classmethod
    def from_env(cls) -> Behaviour:
        return cls(
            validation=os.environ.get("SCLUST_LOCAL_VALIDATION", "1").strip().lower()
            not in ("0", "false", "no", "off"),
            consistency_delay=max(0.0, float(os.environ.get(
                "SCLUST_LOCAL_CONSISTENCY_DELAY", DEFAULT_CONSISTENCY_DELAY))),
            iam_enforcement=os.environ.get("SCLUST_LOCAL_IAM_ENFORCEMENT", "1").strip().lower()
            not in ("0", "false", "no", "off"),
        )

    def update(self, changes: dict[str, object]) -> None:
        """Apply {'validation': bool, 'consistency_delay': seconds, 'clock_offset': seconds,
        'iam_enforcement': bool};
        ValueError if invalid."""
        for key, value in changes.items():
            if key == "validation" and isinstance(value, bool):
                self.validation = value
            elif key == "iam_enforcement" and isinstance(value, bool):
                self.iam_enforcement = value
            elif key == "consistency_delay" and isinstance(value, (int, float)) \
                    and not isinstance(value, bool) and 0 <= value <= 600:
                self.consistency_delay = float(value)
            elif key == "clock_offset" and isinstance(value, (int, float)) \
                    and not isinstance(value, bool) and abs(value) <= 366 * 86400:
                self.clock_offset = float(value)
            else:
                raise ValueError(f"unknown setting or bad value: {key}={value!r}")


@dataclass(frozen=True)
class Layout:
    """Paths inside one state directory."""

    root: Path

    @property
    def pid_file(self) -> Path:
        return self.root / "daemon.pid"

    @property
    def endpoint_file(self) -> Path:
        return self.root / "endpoint.json"

    @property
    def credentials_file(self) -> Path:
        """The endpoint's credentials (mode 0600): whoever can read it may drive the cloud."""
        return self.root / "credentials.json"

    @property
    def images_dir(self) -> Path:
        """Root layers captured by CreateImage, one directory per snapshot."""
        return self.root / "images"

    @property
    def log_file(self) -> Path:
        return self.root / "daemon.log"

    @property
    def journal_file(self) -> Path:
        return self.root / "resources.json"

    @property
    def hosts_dir(self) -> Path:
        return self.root / "hosts"

    @property
    def volumes_dir(self) -> Path:
        return self.root / "volumes"

    @property
    def image_dir(self) -> Path:
        return self.root / "image"

    @property
    def nfs_socket(self) -> Path:
        return self.root / "nfs.sock"

"""The realizer: keeps the machine (hosts, addresses, loop devices) in step with moto's EC2
state. Level-triggered: `sync()` compares what moto says with what exists and fixes the
difference; long steps (boot, halt, destroy) run on worker threads, one at a time per host.

Locking: `lock` guards moto's objects (the endpoint holds it for every request); a host's own
lock guards its realization. Order is always cloud lock → host lock, and workers never take the
cloud lock while holding a host lock."""

from __future__ import annotations

import base64
import ipaddress
import logging
import shutil
import signal
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sclust.localcloud import hostinit, images, network, volumes
from sclust.localcloud.addresses import AddressPool
from sclust.localcloud.faults import BootFaults, EC2Error, Faults
from sclust.localcloud.hosts import Host, HostSpec
from sclust.localcloud.images import DEFAULT_PROFILE, ImageProfile
from sclust.localcloud.journal import Journal
from sclust.localcloud.settings import PRIVATE_RANGE, Behaviour, DaemonSettings, Layout

log = logging.getLogger("sclust.localcloud")


@dataclass
class Desired:
    """What moto says one instance should be, read under the cloud lock."""

    state: str
    spec: HostSpec
    public_ips: set[str]
    volumes: dict[str, tuple[str, int]] = field(default_factory=dict)  # id → (device, GiB)


class Cloud:
    def __init__(self, layout: Layout, settings: DaemonSettings, journal: Journal):
        self.layout = layout
        self.settings = settings
        self.journal = journal
        self.lock = threading.RLock()
        self.addresses = AddressPool()
        self.hosts: dict[str, Host] = {}
        self._busy: set[str] = set()
        self._since: dict[str, float] = {}
        self._reboots: set[str] = set()
        self._pool = ThreadPoolExecutor(max_workers=16, thread_name_prefix="host")
        self._stopping = threading.Event()
        self.mark_failed: Any = None  # set by patches.install
        self.guest_shutdown: Any = None
        self.state_class: Any = None
        # Hooks of other services (NFS): called with the host after each boot, with the
        # instance id after each halt.
        self.on_boot: list[Callable[[Host], None]] = []
        self.on_halt: list[Callable[[str], None]] = []
        self.behaviour = Behaviour.from_env()
        self.faults = Faults()
        # Per instance, recorded at launch (cloud lock held): when, from which image profile
        # and root layer, with which injected boot faults.
        self.launched_at: dict[str, float] = {}
        self.instance_profiles: dict[str, ImageProfile] = {}
        self.instance_layers: dict[str, str] = {}  # instance → snapshot of its image's layer
        self.boot_faults: dict[str, BootFaults] = {}
        # Images made with CreateImage: profile, and the snapshot holding the root layer.
        self.image_profiles: dict[str, ImageProfile] = {}
        self.image_layers: dict[str, str] = {}
        self.layer_ready: dict[str, threading.Event] = {}
        self.imds: Any = None  # imds.MetadataService, set by the daemon

    # --- called from the moto patches (cloud lock held) ---------------------------------------
    def transition_started(self, instance_id: str) -> None:
        self._since[instance_id] = time.monotonic()

    def request_reboot(self, instance_id: str) -> None:
        self._reboots.add(instance_id)

    def profile_of_image(self, image_id: str) -> ImageProfile:
        builtin = images.BUILTIN.get(image_id)
        if builtin is not None:
            return builtin.profile
        return self.image_profiles.get(image_id, DEFAULT_PROFILE)

    def launched(self, instances: list[Any]) -> None:
        """New instances (RunInstances): remember what their hosts are made from."""
        now = time.monotonic()
        for instance in instances:
            self.launched_at[instance.id] = now
            self.instance_profiles[instance.id] = self.profile_of_image(instance.image_id)
            snapshot = self.image_layers.get(instance.image_id)
            if snapshot is not None:
                self.instance_layers[instance.id] = snapshot
            self.boot_faults[instance.id] = self.faults.for_boot()

    def not_yet_visible(self, instance_id: str) -> bool:
        """True while a new instance is still unknown to DescribeInstances (eventual
        consistency of EC2's API)."""
        delay = self.behaviour.consistency_delay
        launched = self.launched_at.get(instance_id)
        return bool(delay) and launched is not None and time.monotonic() - launched < delay

    def launch_fault(self, params: dict[str, list[str]]) -> EC2Error | None:
        """An armed capacity or limit fault for this RunInstances request (cloud lock held)."""
        def first(*names: str) -> str | None:
            return next((params[n][0] for n in names if params.get(n)), None)

        backend = self._backend()
        instance_type = first("InstanceType") or "m1.small"
        zone = first("Placement.AvailabilityZone")
        subnet_id = first("SubnetId", "NetworkInterface.1.SubnetId")
        if zone is None and subnet_id:
            zone = next((z[subnet_id].availability_zone for z in backend.subnets.values()
                         if subnet_id in z), None)
        if zone is None:
            zone = sorted(backend.get_default_subnets())[0]
        try:
            count = int(first("MinCount") or 1)
        except ValueError:
            count = 1
        live = sum(1 for i in backend.all_instances()
                   if i._state.name not in ("terminated", "shutting-down"))
        return self.faults.for_launch(instance_type, zone, count, live)

    def tell_hosts_endpoint(self, url: str, region: str) -> None:
        """Every host boots with AWS_ENDPOINT_URL (and the region) in its environment, as
        SDKs and the AWS CLI read it: /etc/environment (pam_env, every SSH session) and
        /etc/profile.d (login shells)."""
        lines = [f"AWS_ENDPOINT_URL={url}", f"AWS_DEFAULT_REGION={region}",
                 f"AWS_REGION={region}"]
        machine = Path("/etc/environment")
        kept = [line for line in (machine.read_text().splitlines() if machine.is_file() else [])
                if not line.startswith(("AWS_ENDPOINT_URL=", "AWS_DEFAULT_REGION=",
                                        "AWS_REGION="))]
        etc = self.layout.image_dir / "etc"
        (etc / "environment").write_text("\n".join([*kept, *lines]) + "\n")
        (etc / "environment").chmod(0o644)
        profile = etc / "profile.d"
        profile.mkdir(mode=0o755, exist_ok=True)
        (profile / "aws-endpoint.sh").write_text(
            "".join(f"export {line}\n" for line in lines))
        (profile / "aws-endpoint.sh").chmod(0o644)

    def interrupt_spot(self, instance_id: str, action: str = "terminate",
                       notice: float = 120.0) -> dict[str, Any]:
        """A spot interruption: the notice in the instance's metadata now
        (spot/instance-action), then, NOTICE seconds later, stop or terminate."""
        import datetime as dt

        from moto.ec2.models.instances import StateReason

        if action not in ("terminate", "stop"):
            raise ValueError("action must be terminate or stop")
        if not 0 <= notice <= 3600:
            raise ValueError("notice must be 0–3600 seconds")
        with self.lock:
            try:
                instance = self._backend().get_instance(instance_id)
            except Exception:
                raise ValueError(f"no instance {instance_id}") from None
            if instance.lifecycle != "spot":
                raise ValueError(f"{instance_id} is not a spot instance")
            when = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=notice)
            notice_doc = {"action": action, "time": when.strftime("%Y-%m-%dT%H:%M:%SZ")}
            if self.imds is not None:
                self.imds.spot_actions[instance_id] = notice_doc

        def fire() -> None:
            with self.lock:
                backend = self._backend()
                instance = backend.get_instance(instance_id)
                if instance._state.name in ("pending", "running"):
                    if action == "stop":
                        backend.stop_instances([instance_id])
                    else:
                        backend.terminate_instances([instance_id])
                    code = "Server.SpotInstanceTermination"
                    instance.state_reason = StateReason(f"{code}: Spot instance termination",
                                                        code)
                    log.info("spot interruption of %s: %s", instance_id, action)
                if self.imds is not None:
                    self.imds.spot_actions.pop(instance_id, None)
            self.sync()

        timer = threading.Timer(notice, fire)
        timer.daemon = True
        timer.start()
        return {"kind": "spot-interruption", "instance": instance_id, **notice_doc}

    def capture_image(self, instance: Any, ami: Any) -> None:
        """CreateImage: the AMI is `pending` until the instance's root layer is copied to its
        snapshot's layer, then `available` (cloud lock held)."""
        self.image_profiles[ami.id] = self.instance_profiles.get(instance.id, DEFAULT_PROFILE)
        snapshot = ami.ebs_snapshot.id
        self.image_layers[ami.id] = snapshot
        ready = threading.Event()
        self.layer_ready[snapshot] = ready
        upper = self.layout.hosts_dir / instance.id / "upper"
        destination = images.layer_dir(self.layout.images_dir, snapshot)
        ami.state = "pending"

        def work() -> None:
            began = time.monotonic()
            try:
                if upper.is_dir():
                    images.capture(upper, destination)
                else:  # never booted: nothing differs from the image it came from
                    destination.mkdir(parents=True)
                state = "available"
                log.info("image %s of %s captured in %.2f s", ami.id, instance.id,
                         time.monotonic() - began)
            except Exception:
                log.exception("capturing image %s of %s failed", ami.id, instance.id)
                state = "failed"
            with self.lock:
                ami.state = state
            ready.set()

        self._pool.submit(work)

    def check_realizable(self, instances: list[Any]) -> str | None:
        """Why these new instances cannot become hosts, or None."""
        taken = {h.spec.private_ip for h in self.hosts.values()}
        for instance in instances:
            ip = instance.private_ip
            if ip is None or ipaddress.IPv4Address(ip) not in PRIVATE_RANGE:
                return (f"the local cloud realizes private addresses in {PRIVATE_RANGE} only, "
                        f"not {ip}")
            if ip in taken:
                return f"private address {ip} is already used by another local host"
            taken.add(ip)
        return None

    # --- lifecycle of the realizer ------------------------------------------------------------
    def start(self) -> None:
        # Only the machine's root may enter: hosts' layers, volume images.
        self.layout.hosts_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.layout.hosts_dir.chmod(0o700)
        self.layout.volumes_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.layout.volumes_dir.chmod(0o700)
        remove_tree(self.layout.images_dir)  # a predecessor's images died with its moto
        self.layout.images_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        hostinit.write_image_layer(self.layout.image_dir, private_dirs=(self.layout.root,))
        network.bridge_up(self.journal)
        threading.Thread(target=self._periodic, name="sync", daemon=True).start()

    def _periodic(self) -> None:
        while not self._stopping.wait(1.0):
            try:
                self.sync()
            except Exception:  # keep the loop alive; the next request retries
                log.exception("periodic sync failed")

    def shutdown(self) -> None:
        """Remove every host (in parallel), their loop devices and the bridge."""
        self._stopping.set()
        self._pool.shutdown(wait=True)
        hosts = list(self.hosts.values())
        with ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(self._teardown_host, hosts))
        self.hosts.clear()
        network.bridge_down(self.journal)
        # moto's state ends with the daemon: root layers and volume files belong to nothing.
        remove_tree(self.layout.hosts_dir)
        remove_tree(self.layout.volumes_dir)
        remove_tree(self.layout.images_dir)

    def _teardown_host(self, host: Host) -> None:
        with host.lock:
            try:
                host.halt()
            finally:
                self._release_volumes(host)

    # --- reading moto --------------------------------------------------------------------------
    def _backend(self) -> Any:
        from moto.core import DEFAULT_ACCOUNT_ID
        from moto.ec2.models import ec2_backends

        return ec2_backends[DEFAULT_ACCOUNT_ID][self.settings.region]

    def _desired(self) -> dict[str, Desired]:
        backend = self._backend()
        wanted: dict[str, Desired] = {}
        for instance in backend.all_instances():
            if instance._state.name == "terminated" and instance.id not in self.hosts:
                continue  # long gone: nothing to realize (its subnet may be gone too)
            ip = instance.private_ip
            subnet = next((zone[instance.subnet_id] for zone in backend.subnets.values()
                           if instance.subnet_id in zone), None)
            key = backend.key_pairs.get(instance.key_name) if instance.key_name else None
            ud = instance.user_data
            if isinstance(ud, list):  # older moto kept a list
                ud = ud[0] if ud else None
            profile = self.instance_profiles.get(instance.id, DEFAULT_PROFILE)
            boot = self.boot_faults.get(instance.id, BootFaults())
            snapshot = self.instance_layers.get(instance.id)
            spec = HostSpec(
                instance_id=instance.id,
                hostname="ip-" + str(ip).replace(".", "-"),
                private_ip=str(ip),
                prefixlen=subnet.cidr.prefixlen if subnet else 16,
                authorized_key=key.material_public.decode() if key is not None else None,
                user_data=base64.b64decode(ud.as_bytes()) if ud is not None else None,
                login_user=profile.login_user,
                login_groups=profile.login_groups,
                root_login=profile.root_login,
                image_layer=(images.layer_dir(self.layout.images_dir, snapshot)
                             if snapshot else None),
                layer_ready=self.layer_ready.get(snapshot) if snapshot else None,
                no_ssh=boot.no_ssh,
                ssh_delay=boot.ssh_delay,
            )
            public = {nic.public_ip for nic in instance.nics.values() if nic.public_ip}
            vols = {}
            for device, bdt in instance.block_device_mapping.items():
                if device == instance.root_device_name:
                    continue  # the root volume is the host's overlay root layer
                volume = backend.volumes.get(bdt.volume_id)
                if volume is not None:
                    vols[volume.id] = (volumes.device_in_host(device), volume.size)
            wanted[instance.id] = Desired(instance._state.name, spec, public, vols)
        return wanted

    # --- reconciling ---------------------------------------------------------------------------
    def sync(self) -> None:
        """Bring the machine in line with moto: quick fixes now, long steps on workers."""
        if self._stopping.is_set():
            return
        with self.lock:
            wanted = self._desired()
            for instance_id, want in wanted.items():
                if instance_id in self._busy:
                    continue
                host = self.hosts.get(instance_id)
                if want.state == "running" and host is not None:
                    ended = host.ended_by_itself()
                    if ended is not None:
                        want.state = self._guest_ended(instance_id, ended)
                step = self._next_step(want, host)
                if step is not None:
                    self._busy.add(instance_id)
                    self._pool.submit(self._run_step, step, instance_id, want)
                elif host is not None and host.running and want.state == "running":
                    if host.lock.acquire(blocking=False):
                        try:
                            self._apply_quick(host, want)
                        finally:
                            host.lock.release()
            self._delete_unused_volume_files()
            self._delete_unused_image_layers()

    def _guest_ended(self, instance_id: str, status: int) -> str:
        """A host ended from inside: a reboot restarts it, a power-off is an instance-initiated
        shutdown (stop, or terminate if the instance says so). Its new state (cloud lock held)."""
        if status in (-signal.SIGHUP, 128 + signal.SIGHUP):
            log.info("%s rebooted itself", instance_id)
            self._reboots.add(instance_id)
            return "running"
        if status not in (-signal.SIGINT, 128 + signal.SIGINT):
            # Not reboot(2)'s power-off: init was killed or crashed. Never terminate for that
            # (the root volume would go with it): the instance stops, as a failed one would.
            log.warning("%s: its init ended unexpectedly (status %s); stopping it",
                        instance_id, status)
            instance = self._backend().get_instance(instance_id)
            instance.stop()
            return "stopped"
        log.info("%s shut itself down", instance_id)
        return self.guest_shutdown(self._backend().get_instance(instance_id))

    def _next_step(self, want: Desired, host: Host | None) -> str | None:
        running = host is not None and host.running
        if want.state == "pending":
            return "finish-start" if running else "boot"
        if want.state == "running" and want.spec.instance_id in self._reboots:
            return "reboot"
        if want.state == "stopping":
            return "halt"
        if want.state == "stopped" and running:
            return "halt"
        if want.state == "shutting-down":
            return "destroy"
        if want.state == "terminated" and host is not None:
            return "destroy"
        return None

    def _run_step(self, step: str, instance_id: str, want: Desired) -> None:
        try:
            self._do_step(step, instance_id, want)
        except Exception as exc:
            log.exception("%s of %s failed", step, instance_id)
            if step == "boot":
                with self.lock:
                    instance = self._backend().get_instance(instance_id)
                    self.mark_failed(instance, str(exc)[:200])
        finally:
            with self.lock:
                self._busy.discard(instance_id)
            self.sync()

    def _do_step(self, step: str, instance_id: str, want: Desired) -> None:
        host = self.hosts.get(instance_id)
        if host is None:
            host = Host(want.spec, self.layout, self.journal)
            with self.lock:
                self.hosts[instance_id] = host
        with host.lock:
            if step == "boot":
                began = time.monotonic()
                host.public_ips = set(want.public_ips)
                host.boot()
                self._sync_volumes(host, want.volumes)
                log.info("booted %s (%s, %s) in %.2f s", instance_id, want.spec.private_ip,
                         ",".join(sorted(want.public_ips)) or "no public address",
                         time.monotonic() - began)
            elif step == "reboot":
                with self.lock:
                    self._reboots.discard(instance_id)
                self._release_volumes(host)
                host.restart_processes()
                self._sync_volumes(host, want.volumes)
            elif step == "halt":
                host.halt()
                self._release_volumes(host)
            elif step == "destroy":
                host.halt()
                self._release_volumes(host)
                host.destroy()
        if step == "destroy":
            with self.lock:
                self.hosts.pop(instance_id, None)
                for per_instance in (self.launched_at, self.instance_profiles,
                                     self.instance_layers, self.boot_faults):
                    per_instance.pop(instance_id, None)
        for halted in self.on_halt if step in ("halt", "destroy", "reboot") else ():
            halted(instance_id)
        for hook in self.on_boot if step in ("boot", "reboot") else ():
            hook(host)
        # Hold the transition state for its minimum time, then move on (if nobody changed it).
        final = {"boot": ("pending", "running", 16),
                 "finish-start": ("pending", "running", 16),
                 "halt": ("stopping", "stopped", 80),
                 "destroy": ("shutting-down", "terminated", 48)}
        if step in final:
            since = self._since.get(instance_id, 0.0)
            time.sleep(max(0.0, since + self.settings.min_transition - time.monotonic()))
            was, now, code = final[step]
            with self.lock:
                instance = self._backend().get_instance(instance_id)
                if instance._state.name == was:
                    if now == "running":
                        fresh = self._desired().get(instance_id)
                        if fresh is not None:
                            with host.lock:
                                self._apply_quick(host, fresh)
                    instance._state = self.state_class(now, code)

    def _apply_quick(self, host: Host, want: Desired) -> None:
        """Public addresses and volumes of a running host (host lock held)."""
        if want.public_ips != host.public_ips:
            network.set_public_addresses(host.spec.instance_id, host.public_ips, want.public_ips)
            host.public_ips = set(want.public_ips)
        self._sync_volumes(host, want.volumes)

    def _sync_volumes(self, host: Host, wanted: dict[str, tuple[str, int]]) -> None:
        for volume_id in list(host.volumes):
            if wanted.get(volume_id, (None,))[0] != host.volumes[volume_id][1]:
                loop, device = host.volumes.pop(volume_id)
                volumes.remove_node(host, device)
                volumes.detach_loop(self.journal, loop)
        for volume_id, (device, size) in wanted.items():
            if volume_id in host.volumes:
                volumes.grow_volume_file(self.layout.volumes_dir, volume_id, size,
                                         host.volumes[volume_id][0])
                continue
            backing = volumes.ensure_volume_file(self.layout.volumes_dir, volume_id, size)
            volumes.grow_volume_file(self.layout.volumes_dir, volume_id, size, None)
            loop = volumes.attach_loop(self.journal, backing)
            try:
                volumes.make_node(host, device, loop)
            except Exception:
                volumes.detach_loop(self.journal, loop)
                raise
            host.volumes[volume_id] = (loop, device)

    def _release_volumes(self, host: Host) -> None:
        """After a halt: the host's mounts are gone with it; free its loop devices."""
        for loop, _device in host.volumes.values():
            volumes.detach_loop(self.journal, loop)
        host.volumes.clear()

    def _delete_unused_volume_files(self) -> None:
        """DeleteVolume removes the file (cloud lock held)."""
        known = set(self._backend().volumes)
        for path in self.layout.volumes_dir.glob("vol-*.img"):
            if path.stem not in known:
                path.unlink(missing_ok=True)

    def _delete_unused_image_layers(self) -> None:
        """DeleteSnapshot of an image's snapshot removes its root layer (cloud lock held)."""
        if not self.layout.images_dir.is_dir():
            return
        known = set(self._backend().snapshots)
        for path in self.layout.images_dir.iterdir():
            if path.name.startswith("snap-") and not path.name.endswith(".partial") \
                    and path.name not in known:
                shutil.rmtree(path, ignore_errors=True)
                self.layer_ready.pop(path.name, None)
                log.info("removed the root layer of deleted snapshot %s", path.name)

    # --- for status and NFS --------------------------------------------------------------------
    def host_status(self) -> list[dict[str, Any]]:
        with self.lock:
            wanted = self._desired()
        rows = []
        for instance_id, want in sorted(wanted.items()):
            if want.state == "terminated" and instance_id not in self.hosts:
                continue
            rows.append({
                "instance_id": instance_id,
                "private_ip": want.spec.private_ip,
                "public_ip": sorted(want.public_ips)[0] if want.public_ips else None,
                "state": want.state,
                "hostname": want.spec.hostname,
            })
        return rows

    def running_hosts(self) -> list[Host]:
        with self.lock:
            return [h for h in self.hosts.values() if h.running]


def remove_tree(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)

"""A launch and a removal of the load balancer overlap on real hosts: node001 (drained, as the
balancer drains) leaves while node002 joins, and the cluster ends whole — the right hosts in
Grid Engine, none left disabled, a job runs on the new node."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from localcloud_helpers import LocalCloud, cluster_config


def test_a_launch_and_a_removal_run_together(cloud: LocalCloud, tmp_path: Path) -> None:
    from sclust.cluster import ClusterManager
    from sclust.config import AwsSettings, load_config
    from sclust.ec2 import EC2
    from sclust.elastic.operations import LAUNCH, REMOVE, Operations
    from sclust.progress import Progress
    from sclust.scheduler import scheduler_for

    config = load_config(cluster_config(cloud, tmp_path, "ov", "LOGIN_USER = ubuntu\n", size=2))
    aws = EC2(AwsSettings(region="us-east-1", endpoint_url=cloud.url,
            access_key_id=cloud.access_key, secret_access_key=cloud.secret_key))
    manager = ClusterManager(aws, Progress(quiet=True),
                             key_file=lambda _: tmp_path / "cloud-key.pem")
    info = manager.start("ov", config.template())
    try:
        operations = Operations(threading.Event(), lambda: manager.cluster_nodes("ov"))
        manager.setup_guard = operations
        configurator = manager.configurator(info)
        master = configurator.connection(info.master)
        sge = scheduler_for("sge")
        master.run_script(sge.disable(["node001"]))  # the balancer's drain
        leaving = next(n for n in info.nodes if n.alias == "node001")
        operations.start(LAUNCH, ["node002"], ["node002"],
                         lambda: manager.add_nodes("ov", 0, ["node002"]))
        time.sleep(1)  # the launch is under way (booting) when the removal starts
        operations.start(REMOVE, ["node001"], ["node001"],
                         lambda: manager.remove_nodes("ov", ["node001"], 0, keep=False),
                         instance_ids=[leaving.instance_id])
        assert operations.wait(600)
        ended = [operations.finished(), operations.finished()]
        assert all(o is not None and o.error is None for o in ended), [
            (o.kind, o.error) for o in ended if o is not None]
        by_kind = {o.kind: o for o in ended if o is not None}
        assert set(by_kind) == {LAUNCH, REMOVE}
        launch, removal = by_kind[LAUNCH], by_kind[REMOVE]
        assert removal.started < (launch.ended or 0) and launch.started < (removal.ended or 0)

        env = "export SGE_ROOT=/var/lib/gridengine SGE_CELL=default; "
        def on_master(command: str) -> str:
            return master.run(env + command, sudo=True).stdout

        assert sorted(n.alias for n in manager.get("ov").nodes if n.state == "running") == [
            "master", "node002"]
        assert sorted(on_master("qconf -sel").split()) == ["master", "node002"]
        assert sorted(on_master("qconf -shgrp_resolved @allhosts").split()) == [
            "master", "node002"]
        assert on_master("qselect -q all.q -qs d || true").split() == []
        assert "node001" not in on_master("cat /etc/hosts /etc/exports")
        on_master("su - sgeadmin -c 'echo hostname | qsub -sync y -q all.q@node002 -j y "
                  "-o /home/sgeadmin/ov.out >/dev/null'")
        assert on_master("cat /home/sgeadmin/ov.out").strip() == "node002"
        configurator.close()
    finally:
        manager.terminate("ov")

"""`sclust image build` benchmark on the local cloud: wall time of `start` until SGE is ready
from the stock image vs from the image built for the template, and the build's own time.

Run as root: python bench/bench_image_build.py [SIZE]   (brings up and tears down its own
local cloud; run it under flock /tmp/sclust-localcloud-tests.lock)

On the local cloud the hosts share the machine's packages (Grid Engine is already there), so
the difference shows only what the boot's install probes cost; on EC2 the stock image pays
apt-get update + install of gridengine on every node at every start.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
STOCK = "ami-0localstarcluster"


def main(size: int = 3) -> None:
    from sclust.cluster import ClusterManager
    from sclust.config import AwsSettings, load_config
    from sclust.ec2admin import EC2Admin
    from sclust.helperhost import HelperSpec
    from sclust.imagebuild import build_image
    from sclust.keys import public_key_openssh
    from sclust.localcloud import control
    from sclust.progress import Progress
    from tests.conftest import cluster_config, write_key

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["SCLUST_HOME"] = tmp
        os.environ["SCLUST_LOCAL_PORT"] = "0"
        endpoint = control.up(Path(tmp) / "local")
        try:
            cloud = EC2Admin(AwsSettings(region=endpoint.region, endpoint_url=endpoint.url,
                                         access_key_id=endpoint.access_key,
                                         secret_access_key=endpoint.secret_key))
            key = write_key(Path(tmp) / "k.pem")
            cloud.import_key_pair("mykey", public_key_openssh(key))
            path = cluster_config(Path(tmp), key, size=size, extra="LOGIN_USER = root\n")
            path.write_text(path.read_text().replace("ami-12345678", STOCK))
            template = load_config(path).template()
            manager = ClusterManager(cloud, Progress(quiet=True), key_file=lambda _: key)
            zone = cloud.default_subnets()[0].zone

            def timed_start(tag: str, image_id: str) -> float:
                began = time.monotonic()
                manager.start(tag, replace(template, node_image_id=image_id))
                seconds = time.monotonic() - began
                manager.terminate(tag)
                return seconds

            rows.append(("start from the stock image", timed_start("stock", STOCK)))
            began = time.monotonic()
            image = build_image(cloud, template, HelperSpec(STOCK, "t3.micro", zone, "mykey",
                                                            key, "root"),
                                "bench built image", Progress(quiet=True))
            rows.append(("sclust image build", time.monotonic() - began))
            rows.append(("start from the built image", timed_start("built", image.image_id)))
        finally:
            control.down(Path(tmp) / "local")
    print(f"| {size} nodes, local cloud | seconds |\n|---|---|")
    for what, seconds in rows:
        print(f"| {what} | {seconds:.1f} |")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 3)

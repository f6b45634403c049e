"""`sclust image build TEMPLATE`: an AMI with what the template's clusters install at boot
already installed (Grid Engine, the distribution packages of its PackageInstaller and MPI
plugins), so that a cluster started from it installs nothing. Beyond StarCluster;
ParallelCluster's `build-image` is the model.

A builder instance is launched from the template's NODE_IMAGE_ID as a helper host (own group,
terminated afterwards whatever happens), the packages are installed with the same scripts a
boot would run, then `ebsimage` registers the AMI from it."""

from __future__ import annotations

from dataclasses import asdict

from sclust.cloudadmin import CloudAdmin, ImageInfo
from sclust.config import ClusterTemplate
from sclust.errors import SclustError
from sclust.helperhost import HelperSpec, helper_host
from sclust.imageops import ebs_image
from sclust.progress import Progress
from sclust.scripts import ScriptFile, ScriptRun

SGE_COMMON = ScriptFile("sclust.sge", "scripts/common.sh")
SGE_PACKAGES = ScriptFile("sclust.sge", "scripts/packages.sh")
DISTRO_PACKAGES = ScriptFile("sclust.plugins", "scripts/packages.sh")
TAG_TEMPLATE = "sclust:built-for-template"


def plugin_packages(template: ClusterTemplate) -> list[str]:
    """The distribution packages the template's plugins install on every node (built-in
    PackageInstaller and MPI plugins; other plugins' work is left to boot time)."""
    from sclust.plugins.mpi import MPISetup
    from sclust.plugins.pkginstaller import PackageInstaller
    from sclust.plugins.registry import instantiate

    packages: list[str] = []
    for spec in template.plugins:
        try:
            plugin = instantiate(spec.name, spec.setup_class, dict(asdict(spec)["settings"]))
        except (ValueError, ImportError) as error:
            raise SclustError(f"[plugin {spec.name}]: {error}") from None
        if isinstance(plugin, (PackageInstaller, MPISetup)):
            packages += [p for p in plugin.packages if p not in packages]
    return packages


def install_run(template: ClusterTemplate) -> tuple[ScriptRun, list[str]]:
    """What the builder runs, and a description of it."""
    run = ScriptRun()
    what = []
    if not template.disable_queue:
        run.add(SGE_COMMON).add(SGE_PACKAGES)
        what.append("Grid Engine")
    packages = plugin_packages(template)
    if packages:
        run.add(DISTRO_PACKAGES, packages=packages)
        what.append(", ".join(packages))
    return run, what


def build_image(cloud: CloudAdmin, template: ClusterTemplate, spec: HelperSpec, name: str,
                progress: Progress, timeout: float = 3600) -> ImageInfo:
    """Launch a builder, install what TEMPLATE's clusters need, register AMI NAME from it."""
    run, what = install_run(template)
    if not run:
        raise SclustError(f"[cluster {template.name}] installs nothing at boot (no queue, no "
                          "package plugins): its NODE_IMAGE_ID is already what a build gives")
    with helper_host(cloud, spec, f"image build {template.name}", progress) as (
            instance, connection):
        progress.step(f"installing {'; '.join(what)} on the builder")
        connection.run_script(run, timeout=3600)
        image = ebs_image(cloud, instance.instance_id, name,
                          f"sclust image build of [cluster {template.name}] from "
                          f"{template.node_image_id}", True, progress, timeout)
        cloud.create_tags([image.image_id], {TAG_TEMPLATE: template.name})
        return image

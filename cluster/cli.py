"""The `sclust` command line: parse, call one operation, print.

Only click is imported at start-up; boto3, paramiko and rich are imported by the commands that
need them, so `sclust --help` stays fast.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import click

from sclust import __version__
from sclust.context import (
    CLUSTER_TAG,
    NODE_ALIAS,
    TEMPLATE_NAME,
    AppContext,
    FiniteFloat,
    confirm,
    debug_requested,
    fail,
    pass_app,
)
from sclust.errors import SclustError

if TYPE_CHECKING:
    from sclust.config import Config

log = logging.getLogger("sclust")


class Terminated(KeyboardInterrupt):
    """SIGTERM (a service manager, `kill`, a CI timeout): handled like Ctrl-C, so a command
    stopped either way says what it leaves and how to go on."""


def raise_terminated(signum: int, frame: Any) -> None:
    raise Terminated()


SIGNALS = (signal.SIGINT, signal.SIGTERM)
# Set by `entry` (the `sclust` program): once a command is over, signals are ignored for
# good; a command invoked in a process that goes on (tests) gets its handlers back.
owns_process = False


def ignore_signals() -> None:
    """The command is over (its message is being printed): a late signal changes nothing."""
    if threading.current_thread() is threading.main_thread():
        for signum in SIGNALS:
            signal.signal(signum, signal.SIG_IGN)


# StarCluster's short names of its commands (those sclust has).
COMMAND_ALIASES = {
    "an": "addnode", "bal": "loadbalance", "ck": "createkey", "lc": "listclusters",
    "li": "listimages", "lk": "listkeypairs", "lv": "listvolumes", "lz": "listzones",
    "lr": "listregions", "lsi": "listinstances", "ls": "listspots", "rn": "removenode",
    "rp": "runplugin", "sm": "sshmaster", "sn": "sshnode", "si": "sshinstance",
    "cv": "createvolume", "rv": "removevolume", "res": "resizevolume", "reboot": "restart",
    "rk": "removekey", "sc": "showconsole", "shi": "spothistory", "eimg": "ebsimage",
    "ri": "removeimage", "shimg": "showimage", "di": "downloadimage", "simg": "s3image",
    "createimage": "s3image",
}


class SclustGroup(click.Group):
    """Turns the project's errors into one `sclust: error: …` line per problem, exit 1; a
    failed or interrupted start also says what exists now and how to resume or remove it;
    knows StarCluster's short command names (`sclust lc` is `sclust listclusters`)."""

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        command = super().get_command(ctx, cmd_name)
        if command is None and cmd_name in COMMAND_ALIASES:
            command = super().get_command(ctx, COMMAND_ALIASES[cmd_name])
        return command

    def resolve_command(self, ctx: click.Context,
                        args: list[str]) -> tuple[str | None, click.Command | None, list[str]]:
        name, command, rest = super().resolve_command(ctx, args)
        return (command.name if command else name), command, rest

    def invoke(self, ctx: click.Context) -> Any:
        handlers = {}
        if threading.current_thread() is threading.main_thread():
            handlers = {signum: signal.getsignal(signum) for signum in SIGNALS}
            signal.signal(signal.SIGTERM, raise_terminated)
        try:
            try:
                return super().invoke(ctx)
            except SclustError as error:
                if debug_requested(ctx):
                    log.exception("failed", extra={"file_only": False})
                message = str(error)
            except (click.ClickException, click.exceptions.Exit, click.Abort):
                raise
            except Exception as error:  # an EC2 endpoint's garbage, a bug: one line, log has it
                if debug_requested(ctx):
                    raise
                log.debug("unexpected error", exc_info=True, extra={"file_only": True})
                from sclust.paths import log_dir

                message = (f"unexpected {type(error).__name__}: {error} (details: {log_dir()}/"
                           "sclust.log; rerun with --debug for the traceback)")
            lines = aftermath(ctx)
            ignore_signals()
            fail("\n".join([message, *lines]))
        except KeyboardInterrupt as interrupt:
            lines = aftermath(ctx) or [
                "everything launched so far is tagged with its cluster; `sclust start -x TAG` "
                "resumes, `sclust terminate TAG` removes it"]
            ignore_signals()
            what = "terminated (SIGTERM)" if isinstance(interrupt, Terminated) else "interrupted"
            click.echo(f"\nsclust: {what}", err=True)
            for line in lines:
                click.echo(f"sclust: {line}", err=True)
            log.error("%s: %s", what, " / ".join(lines), extra={"file_only": True})
            sys.exit(143 if isinstance(interrupt, Terminated) else 130)
        finally:
            if owns_process:
                ignore_signals()
            else:
                for signum, handler in handlers.items():
                    signal.signal(signum, handler)


def aftermath(ctx: click.Context) -> list[str]:
    """What a failed or interrupted start leaves (sclust.report.aftermath); nothing for other
    commands."""
    app = ctx.find_object(AppContext)
    manager = app.opened_manager if app else None
    if manager is None or manager.changing is None:
        return []
    from sclust.report import aftermath as cluster_aftermath

    return cluster_aftermath(manager)


def setup_logging(debug: bool) -> None:
    """Everything to ~/.sclust/logs/sclust.log; warnings (everything with --debug) to stderr."""
    from logging.handlers import RotatingFileHandler

    from sclust.paths import log_dir

    root = logging.getLogger()
    root.setLevel(logging.DEBUG)
    console = logging.StreamHandler()
    console.setLevel(logging.DEBUG if debug else logging.WARNING)
    console.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    # What the CLI already printed itself goes to the log file only.
    console.addFilter(lambda record: not getattr(record, "file_only", False))
    root.addHandler(console)
    try:
        # The log holds every command line and remote step: the owner's only.
        log_dir().mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(log_dir(), 0o700)
        log_file = log_dir() / "sclust.log"
        os.close(os.open(log_file, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW, 0o600))
        os.chmod(log_file, 0o600)
        handler = RotatingFileHandler(log_file, maxBytes=5_000_000, backupCount=3)
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(process)d %(levelname)s %(name)s: %(message)s")
        )
        handler.setLevel(logging.DEBUG)
        root.addHandler(handler)
    except OSError as error:
        console.handle(logging.makeLogRecord({"msg": f"no log file: {error}", "levelno": 30,
                                              "levelname": "WARNING"}))
    for noisy in ("botocore", "boto3", "urllib3", "paramiko", "s3transfer"):
        logging.getLogger(noisy).setLevel(logging.DEBUG if debug else logging.WARNING)


@click.group(cls=SclustGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="sclust")
@click.option("-c", "--config", "config_path", metavar="FILE",
              help="Config file (default: $SCLUST_CONFIG, ~/.sclust/config, "
                   "~/.starcluster/config).")
@click.option("-r", "--region",
              help="EC2 region (default: [aws info] AWS_REGION_NAME or boto3's).")
@click.option("-d", "--debug", is_flag=True,
              help="Verbose logs on stderr and tracebacks on errors.")
@click.pass_context
def main(ctx: click.Context, config_path: str | None, region: str | None, debug: bool) -> None:
    """sclust builds HPC clusters (a master and nodes sharing storage over NFS, with Sun Grid
    Engine) and training desktops on AWS EC2 — or on this machine's local cloud.

    Templates come from a StarCluster-style INI file; an existing ~/.starcluster/config works.
    Logs go to ~/.sclust/logs/sclust.log.

    \b
    Typical use:
      sclust validate                 check the config
      sclust start mycluster          launch the default template as 'mycluster'
      sclust listclusters             what is running
      sclust sshmaster mycluster      log in to the master
      sclust stop mycluster           stop paying for compute (volumes stay)
      sclust start -x mycluster       resume it
      sclust terminate mycluster      remove it (never deletes your volumes)
    """
    ctx.obj = AppContext(config_path=config_path, debug=debug, region=region)
    setup_logging(debug)
    log.debug("sclust %s: %s", __version__, " ".join(sys.argv))


@main.result_callback()
@click.pass_context
def report_plugins(ctx: click.Context, *_: Any, **__: Any) -> None:
    """After a command: what the plugins reported; a failed plugin makes the exit status 1
    (the cluster itself stays as it is)."""
    app = ctx.find_object(AppContext)
    if app:
        app.warn_unused_config_problems()
    outcomes = [o for source in (app.plugin_sources if app else []) for o in
                source.plugin_outcomes]
    failed = []
    for outcome in outcomes:
        for line in outcome.reports:
            click.echo(f"plugin {outcome.name}: {line}")
        if outcome.error:
            failed.append(outcome)
    if failed:
        lines = [f"plugin {o.name} failed in {o.hook}: {o.error}" for o in failed]
        names = " ".join(sorted({o.name for o in failed}))
        lines.append(f"nothing else was undone; fix the plugin ({names}) and run it again: "
                     "`sclust runplugin PLUGIN TAG` on a cluster, `sclust desktops start NAME`"
                     " on desktops")
        fail("\n".join(lines))


# ---- config ----------------------------------------------------------------------------------


@main.command()
@click.argument("template", required=False, type=TEMPLATE_NAME)
@pass_app
def validate(app: AppContext, template: str | None) -> None:
    """Check the config file (all of it, or TEMPLATE fully) without contacting EC2.

    Every mistake is reported as FILE:LINE: [section] KEY: problem.
    """
    from sclust.config import merged_cluster_keys
    from sclust.desktops.template import desktops_template, leaf_desktops
    from sclust.errors import ConfigError

    app.warn_config_problems = False  # they are this command's errors
    config = app.config
    desktops = config.named("desktops")
    leaves = config.leaf_templates() + leaf_desktops(config)
    names = [template] if template else leaves
    errors: list[str] = list(config.problems) if not template else []
    for name in names:
        try:
            if name in desktops and name not in config.named("cluster"):
                desktops_template(config, name)
            else:
                config.template(name)
        except ConfigError as error:
            errors.extend(line for line in str(error).splitlines() if line not in errors)
    if not template:
        from sclust.config import plugin_from

        for section in config.named("plugin").values():  # used by a template or not
            found_problems: list[str] = []
            plugin_from(section, found_problems)
            errors.extend(line for line in found_problems if line not in errors)
        # Templates only meant to be extended may lack required keys, but not be broken
        # otherwise: an EXTENDS cycle or a missing parent is an error wherever it is.
        for kind, sections in (("cluster", config.named("cluster")), ("desktops", desktops)):
            for name in sections:
                if name not in leaves:
                    found: list[str] = []
                    merged_cluster_keys(config, name, found, kind=kind)
                    errors.extend(line for line in found if line not in errors)
    if errors:
        fail("\n".join(errors))
    click.echo(f"{config.path}: OK ({', '.join(names) or 'no templates'})")


# ---- cluster lifecycle -----------------------------------------------------------------------


@main.command()
@click.argument("tag", type=CLUSTER_TAG)
@click.option("-c", "--cluster-template", "template_name", metavar="TEMPLATE", type=TEMPLATE_NAME,
              help="Template to use (default: [global] DEFAULT_TEMPLATE).")
@click.option("-x", "--no-create", "reuse", is_flag=True,
              help="Reuse the existing (e.g. stopped) cluster TAG: start what is stopped, "
                   "launch what is missing.")
@click.option("-o", "--create-only", is_flag=True,
              help="Launch the instances; skip node setup over SSH.")
@click.option("-v", "--validate-only", is_flag=True,
              help="Only check the template, launch nothing.")
@click.option("-s", "--cluster-size", type=click.IntRange(min=1), help="Nodes, master included.")
@click.option("-b", "--bid", type=FiniteFloat(min=0, min_open=True),
              help="Spot bid in $/hour for the nodes.")
@click.option("-i", "--node-instance-type", help="Instance type of the nodes.")
@click.option("-I", "--master-instance-type", help="Instance type of the master.")
@click.option("-m", "--master-image-id", help="AMI of the master.")
@click.option("-n", "--node-image-id", help="AMI of the nodes.")
@click.option("-a", "--availability-zone", help="Zone to launch in.")
@click.option("-k", "--keyname", help="Key pair (a [key NAME] section).")
@click.option("-N", "--subnet-id", help="VPC subnet to launch into.")
@pass_app
def start(app: AppContext, tag: str, template_name: str | None, reuse: bool, create_only: bool,
          validate_only: bool, **overrides: Any) -> None:
    """Start cluster TAG from a template (or resume it with -x).

    Creates a security group for the cluster, launches the master and the nodes into one
    subnet, attaches the template's [volume]s to the master, and waits until every node runs.
    All state is kept as tags on EC2: any machine with the credentials can manage the cluster.
    """
    if reuse:
        info = app.manager().resume(tag, configure=not create_only)
    else:
        template = apply_overrides(app.config, template_name, overrides)
        if validate_only:
            click.echo(f"template {template.name!r} is valid")
            return
        info = app.manager().start(tag, template, configure=not create_only)
    from sclust.report import print_cluster

    print_cluster(info)
    if info.settings is not None and info.settings.loadbalance == "on-master" \
            and not create_only:
        from sclust.elastic.onmaster import install, template_args

        manager = app.manager()
        args = template_args(tag, info.settings)
        click.echo(f"LOADBALANCE = on-master: installing the balancer (loadbalance "
                   f"{' '.join(args)})")
        shipped = install(manager, tag, args, getattr(manager.cloud, "region", None))
        click.echo(f"the balancer runs on the master (sclust from {shipped}); "
                   f"`sclust loadbalance {tag} --status` or `--logs` to follow it")


def apply_overrides(config: Config, template_name: str | None, overrides: dict[str, Any]):
    """The template with start's command-line options applied, re-checked."""
    from sclust.config import NodeTypeSpec
    from sclust.values import as_image_id, as_instance_type

    keyname = overrides.pop("keyname")
    template = config.template(template_name, check_key_file=keyname is None)
    if keyname:
        from sclust.config import key_file_problem

        key = config.key_pair(keyname)
        problem = key_file_problem(key.location)
        if problem:
            raise SclustError(f"[key {keyname}] KEY_LOCATION: {problem}")
        template = replace(template, key=key)
    mapping = {
        "cluster_size": "cluster_size", "bid": "spot_bid",
        "master_instance_type": "master_instance_type", "master_image_id": "master_image_id",
        "node_image_id": "node_image_id", "availability_zone": "availability_zone",
        "subnet_id": "subnet_id",
    }
    changes = {mapping[k]: v for k, v in overrides.items() if k in mapping and v is not None}
    # Values from the command line get the checks the same keys get in the config.
    checks = {"master_instance_type": as_instance_type, "node_instance_type": as_instance_type,
              "master_image_id": as_image_id, "node_image_id": as_image_id}
    for option, check in checks.items():
        if overrides.get(option) is not None:
            try:
                check(overrides[option])
            except ValueError as error:
                raise SclustError(f"--{option.replace('_', '-')}: {error}") from None
    if overrides.get("node_instance_type"):
        changes["node_types"] = [NodeTypeSpec(overrides["node_instance_type"])]
    return replace(template, **changes)


ADD_WITHOUT_ASKING = 20
# StarCluster's -c/--confirm meant "do not ask" on these commands.
YES_OR_CONFIRM = click.option("-y", "--yes", "-c", "--confirm", "yes", is_flag=True,
                              help="Do not ask for confirmation (-c/--confirm: StarCluster's).")
SKIP_PLUGINS = click.option("--skip-plugins", is_flag=True,
                            help="Do not run the plugins' on_shutdown hooks first.")


@main.command()
@click.argument("tags", nargs=-1, required=True, type=CLUSTER_TAG, metavar="TAG...")
@click.option("-t", "--terminate-unstoppable", is_flag=True,
              help="Terminate the nodes that cannot stop (spot, instance store).")
@YES_OR_CONFIRM
@SKIP_PLUGINS
@pass_app
def stop(app: AppContext, tags: tuple[str, ...], terminate_unstoppable: bool, yes: bool,
         skip_plugins: bool) -> None:
    """Stop every node of TAG… (EBS-backed only); `sclust start -x TAG` resumes it.

    Running jobs are lost; volumes, root disks and private addresses are kept.
    """
    manager = app.manager()
    for tag in tags:
        manager.get(tag)
        confirm(f"Stop cluster {tag!r}? Running jobs will be killed.", yes)
        manager.stop(tag, terminate_unstoppable, plugins=not skip_plugins)
        click.echo(f"cluster {tag!r} stopped; resume with `sclust start -x {tag}`")


NO_SETUP = click.option("--no-setup", is_flag=True,
                        help="Only the EC2 side: do not configure nodes over SSH.")


@main.command()
@click.argument("tag", type=CLUSTER_TAG)
@click.option("-y", "--yes", is_flag=True, help="Do not ask for confirmation.")
@NO_SETUP
@pass_app
def restart(app: AppContext, tag: str, yes: bool, no_setup: bool) -> None:
    """Reboot every node of TAG, wait until they run, and set them up again."""
    manager = app.manager()
    manager.get(tag)
    confirm(f"Reboot every node of {tag!r}? Running jobs will be killed.", yes)
    from sclust.report import print_cluster

    print_cluster(manager.restart(tag, configure=not no_setup))


@main.command()
@click.argument("tags", nargs=-1, required=True, type=CLUSTER_TAG, metavar="TAG...")
@YES_OR_CONFIRM
@SKIP_PLUGINS
@pass_app
def terminate(app: AppContext, tags: tuple[str, ...], yes: bool, skip_plugins: bool) -> None:
    """Terminate cluster TAG… : its instances, spot requests and security group.

    The plugins' on_shutdown hooks run first. [volume]s attached to the master are detached
    and kept, never deleted. Several TAGs: one after the other, each asked for.
    """
    for tag in tags:
        terminate_one(app, tag, yes, skip_plugins)


def terminate_one(app: AppContext, tag: str, yes: bool, skip_plugins: bool) -> None:
    manager = app.manager()
    info = manager.get(tag)
    click.echo(f"cluster {tag!r}: these instances will be terminated:")
    for node in [*([info.master] if info.master else []), *info.workers]:
        click.echo(f"  {tag}-{node.alias}  {node.instance_id}  {node.state}")
    for foreign in info.foreign:
        click.echo(f"  left alone (not launched by sclust into this cluster): {foreign}")
    confirm(f"Terminate cluster {tag!r} ({len(info.nodes)} instance(s))? This cannot be "
            "undone.", yes)
    kept = manager.terminate(tag, plugins=not skip_plugins)
    click.echo(f"cluster {tag!r} terminated"
               + (f"; volumes kept: {', '.join(kept)}" if kept else ""))


@main.command()
@click.argument("tags", nargs=-1, type=CLUSTER_TAG, metavar="[TAG]...")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.option("-s", "--show-ssh-status", "ssh_status", is_flag=True,
              help="Also check that each running node answers SSH (all nodes at once; a "
                   "node's connection times out after 8 s).")
@pass_app
def listclusters(app: AppContext, tags: tuple[str, ...], as_json: bool,
                 ssh_status: bool) -> None:
    """List clusters (or just TAG…): state, zone, every node with its addresses, and what
    the cluster has cost so far and will by the end of today (warns from 80 % of BUDGET)."""
    from sclust.clustercost import cluster_spend
    from sclust.desktops.cli import prices_or_none
    from sclust.report import cluster_json, print_cluster

    manager = app.manager()
    clusters = [manager.get(tag, adopt=False) for tag in tags] if tags else (
        manager.list_clusters())
    status = {c.tag: cluster_ssh_status(app, c) for c in clusters} if ssh_status else {}
    prices = prices_or_none(app)
    spends = {c.tag: cluster_spend(c, prices) if prices else None for c in clusters}
    if as_json:
        import json

        listed = []
        for info in clusters:
            data = cluster_json(info, status.get(info.tag))
            spend = spends[info.tag]
            data["cost"] = spend.to_json() if spend else None
            listed.append(data)
        click.echo(json.dumps(listed, indent=2))
        return
    if not clusters:
        click.echo("no clusters")
    for info in clusters:
        print_cluster(info, spends[info.tag], status.get(info.tag))
        spend = spends[info.tag]
        if spend is not None and spend.warning:
            click.echo(f"sclust: warning: cluster {info.tag}: {spend.warning}", err=True)


def cluster_ssh_status(app: AppContext, info: Any) -> dict[str, str]:
    """listclusters -s: each node's SSH answer, with the cluster's key and pinned host keys."""
    from sclust.errors import ConfigError
    from sclust.paths import known_hosts_file
    from sclust.sshstatus import ssh_status

    settings = info.settings
    key_file = None
    if settings is not None:
        try:
            key_file = app.config.key_pair(settings.keyname).location
        except ConfigError:
            key_file = None
    known = known_hosts_file(app.manager().cloud.region, info.tag)
    known.parent.mkdir(parents=True, exist_ok=True)
    return ssh_status(info, key_file, known, settings.login_user if settings else None)


@main.command()
@click.argument("tag", type=CLUSTER_TAG)
@click.option("-n", "--num-nodes", "count", type=click.IntRange(min=1), default=1,
              show_default=True, help="How many nodes to add.")
@click.option("-a", "--alias", "aliases", multiple=True,
              help="Name of a new node (repeat, or separate with commas).")
@click.option("-b", "--bid", type=FiniteFloat(min=0, min_open=True),
              help="Spot bid in $/hour.")
@click.option("-I", "--instance-type", help="Instance type (default: the cluster's node type).")
@click.option("-i", "--image-id", metavar="AMI",
              help="AMI of the new nodes (StarCluster's -i; default: the cluster's node AMI). "
                   "Checked with EC2 first; the nodes keep it on later `start -x`.")
@click.option("-y", "--yes", is_flag=True,
              help=f"Do not ask before adding more than {ADD_WITHOUT_ASKING} nodes.")
@NO_SETUP
@pass_app
def addnode(app: AppContext, tag: str, count: int, aliases: tuple[str, ...], bid: float | None,
            instance_type: str | None, image_id: str | None, yes: bool, no_setup: bool) -> None:
    """Add nodes to cluster TAG (named node001, node002… unless -a gives names).

    The new nodes are set up in parallel and join Grid Engine; the others update their hosts,
    exports and queue without disturbing running jobs.
    """
    from sclust.names import check_name

    names = [a.strip() for item in aliases for a in item.split(",") if a.strip()]
    try:
        names = [check_name(a, "node alias") for a in names]
    except ValueError as error:
        raise SclustError(f"--alias: {error}") from None
    if image_id is not None:
        from sclust.values import as_image_id

        try:
            as_image_id(image_id)
        except ValueError as error:
            raise SclustError(f"--image-id: {error} (the instance type is -I)") from None
    if instance_type is not None:
        from sclust.values import as_instance_type

        try:
            as_instance_type(instance_type)
        except ValueError as error:
            raise SclustError(f"--instance-type: {error}") from None
    wanted = max(count, len(names))
    if wanted > ADD_WITHOUT_ASKING:  # a typo of -n 10 must not launch 100000 instances
        confirm(f"add {wanted} nodes to {tag!r}?", yes)
    added = app.manager().add_nodes(tag, count, names, bid, instance_type,
                                    configure=not no_setup, image_id=image_id)
    click.echo(f"added {', '.join(n.alias for n in added)} to {tag!r}")


@main.command()
@click.argument("tag", type=CLUSTER_TAG)
@click.option("-a", "--alias", "aliases", multiple=True, help="Node to remove (repeatable).")
@click.option("-n", "--num-nodes", "count", type=click.IntRange(min=1),
              help="Remove this many nodes (the highest-numbered).")
@click.option("-k", "--keep-instance", is_flag=True,
              help="Take the node out of the cluster but keep its instance.")
@click.option("-f", "--force", is_flag=True, help="Remove nodes even while jobs run on them.")
@YES_OR_CONFIRM
@NO_SETUP
@pass_app
def removenode(app: AppContext, tag: str, aliases: tuple[str, ...], count: int | None,
               keep_instance: bool, force: bool, yes: bool, no_setup: bool) -> None:
    """Remove nodes from sclust TAG (by -a alias or -n count, default one); the master stays.

    Each node is first disabled in the queue; while jobs still run on it the removal is refused
    (unless --force). Then it leaves Grid Engine, the NFS exports and every /etc/hosts.
    """
    names = [a.strip() for item in aliases for a in item.split(",") if a.strip()]
    if names and count:
        raise SclustError("give either -a ALIAS or -n COUNT")
    if not names and not count:
        count = 1  # StarCluster's default: the highest-numbered node, after confirmation
    manager = app.manager()
    nodes = manager.pick_nodes(manager.get(tag), names, count or 0)
    verb = "Take out" if keep_instance else "Terminate"
    confirm(f"{verb} {', '.join(n.alias for n in nodes)} of {tag!r}?", yes)
    removed = manager.remove_nodes(tag, [n.alias for n in nodes], 0, keep_instance, force,
                                   configure=not no_setup)
    click.echo(f"removed {', '.join(n.alias for n in removed)} from {tag!r}")


# ---- SSH and files ---------------------------------------------------------------------------


def SSH_FLAGS(function: Any) -> Any:  # noqa: N802 (a decorator, named like the others)
    """StarCluster's -X (X11 forwarding), -A (agent forwarding) and -t (tty), given to ssh."""
    for flag, name, about in (("-t", "tty", "Force a terminal (ssh -t)."),
                              ("-A", "forward_agent", "Forward the SSH agent (ssh -A)."),
                              ("-X", "forward_x11", "Forward X11 (ssh -X).")):
        function = click.option(flag, name, is_flag=True, help=about)(function)
    return function


def remote_for(app: AppContext, tag: str, user: str | None):
    from sclust.remote import Remote

    return Remote.for_cluster(app.config, app.manager(), tag, user)


@main.command(context_settings={"ignore_unknown_options": True})
@click.argument("tag", type=CLUSTER_TAG)
@click.argument("command", nargs=-1)
@click.option("-u", "--user", help="Log in as USER (default: root where the image allows it, "
              "as StarCluster did; else the image's login user).")
@SSH_FLAGS
@pass_app
def sshmaster(app: AppContext, tag: str, command: tuple[str, ...], user: str | None,
              forward_x11: bool, forward_agent: bool, tty: bool) -> None:
    """SSH to the master of TAG (interactive, or run COMMAND and return its exit status)."""
    sys.exit(remote_for(app, tag, user).ssh("master", list(command), forward_x11,
                                            forward_agent, tty))


@main.command(context_settings={"ignore_unknown_options": True})
@click.argument("tag", type=CLUSTER_TAG)
@click.argument("node", type=NODE_ALIAS)
@click.argument("command", nargs=-1)
@click.option("-u", "--user", help="Log in as USER (default: root where the image allows it, "
              "as StarCluster did; else the image's login user).")
@SSH_FLAGS
@pass_app
def sshnode(app: AppContext, tag: str, node: str, command: tuple[str, ...],
            user: str | None, forward_x11: bool, forward_agent: bool, tty: bool) -> None:
    """SSH to NODE (an alias such as node001, or master) of TAG."""
    sys.exit(remote_for(app, tag, user).ssh(node, list(command), forward_x11, forward_agent,
                                            tty))


@main.command()
@click.argument("tag", type=CLUSTER_TAG)
@click.argument("paths", nargs=-1, required=True)
@click.option("-u", "--user", help="Copy as USER.")
@click.option("-n", "--node", default="master", show_default=True, help="Node to copy to.")
@pass_app
def put(app: AppContext, tag: str, paths: tuple[str, ...], user: str | None, node: str) -> None:
    """Copy local files to a node: put TAG LOCAL... REMOTE."""
    if len(paths) < 2:
        raise SclustError("put needs at least one LOCAL path and a REMOTE destination")
    sys.exit(remote_for(app, tag, user).copy(node, list(paths[:-1]), paths[-1], upload=True))


@main.command()
@click.argument("tag", type=CLUSTER_TAG)
@click.argument("paths", nargs=-1, required=True)
@click.option("-u", "--user", help="Copy as USER.")
@click.option("-n", "--node", default="master", show_default=True, help="Node to copy from.")
@pass_app
def get(app: AppContext, tag: str, paths: tuple[str, ...], user: str | None, node: str) -> None:
    """Copy files from a node: get TAG REMOTE... LOCAL."""
    if len(paths) < 2:
        raise SclustError("get needs at least one REMOTE path and a LOCAL destination")
    sys.exit(remote_for(app, tag, user).copy(node, list(paths[:-1]), paths[-1], upload=False))


@main.command()
@click.argument("plugin")
@click.argument("tag", type=CLUSTER_TAG)
@click.option("--hook", type=click.Choice(["run", "on_restart", "on_shutdown"]), default="run",
              show_default=True, help="Which hook to call.")
@pass_app
def runplugin(app: AppContext, plugin: str, tag: str, hook: str) -> None:
    """Run PLUGIN (a [plugin PLUGIN] section of the config, or one the cluster was started
    with) on the running cluster TAG — e.g. after fixing a plugin that failed."""
    manager = app.manager()
    info = manager.get(tag)
    spec = app.plugin_spec(plugin, strict=True)
    if spec is None and info.settings:
        spec = next((p for p in info.settings.plugins if p["name"] == plugin), None)
    if spec is None:
        from sclust.config import did_you_mean

        known = list(app.config.named("plugin"))
        raise SclustError(f"no [plugin {plugin}] in {app.config.path} nor in cluster {tag!r}"
                          f"{did_you_mean(plugin, known)}")
    manager.run_plugins(tag, hook, only=[spec])
    failed = any(o.error for o in manager.plugin_outcomes)
    if not failed:
        click.echo(f"plugin {plugin} ({hook}) ran on {tag!r}")


# ---- keys ------------------------------------------------------------------------------------


@main.command()
@click.argument("name")
@click.option("-o", "--output-file", type=click.Path(dir_okay=False),
              help="Create a new key pair in EC2 and save its private key here (mode 0600).")
@click.option("-i", "--import-key", "import_file", type=click.Path(exists=True, dir_okay=False),
              help="Import the public half of this existing private key file instead.")
@pass_app
def createkey(app: AppContext, name: str, output_file: str | None,
              import_file: str | None) -> None:
    """Create (or import) EC2 key pair NAME for a [key NAME] section."""
    from pathlib import Path

    from sclust.connect import open_cloud
    from sclust.keys import create_key_file, public_key_openssh

    if bool(output_file) == bool(import_file):
        raise SclustError("give either -o FILE (new key) or -i KEYFILE (import)")
    cloud = open_cloud(app.config, app.region)
    existing = cloud.key_fingerprint(name)
    if import_file and existing is not None:
        from sclust.keys import fingerprints

        if existing and existing not in fingerprints(Path(import_file)):
            raise SclustError(f"key pair {name!r} already exists in {cloud.region} with another "
                              f"key (fingerprint {existing})")
        click.echo(f"key pair {name!r} is already in {cloud.region} and matches {import_file}")
        return
    if existing is not None:
        raise SclustError(f"key pair {name!r} already exists in {cloud.region}")
    if import_file:
        cloud.import_key_pair(name, public_key_openssh(Path(import_file)))
        click.echo(f"imported {import_file} as key pair {name!r} in {cloud.region}")
        return
    if output_file is None:
        raise SclustError("give -o FILE (a new key pair) or -i KEYFILE (import a key)")
    path = Path(output_file).expanduser()
    if path.exists() or path.is_symlink():  # before EC2 makes a key nobody could save
        raise SclustError(f"{path} exists: choose another file")
    create_key_file(path, cloud.create_key_pair(name))
    click.echo(f"created key pair {name!r} in {cloud.region}; private key in {path}\n"
               f"add to your config:\n[key {name}]\nKEY_LOCATION = {path}")


@main.command("help")
@click.argument("command", required=False)
@click.pass_context
def help_command(ctx: click.Context, command: str | None) -> None:
    """Help on sclust, or on COMMAND (StarCluster's short names work too)."""
    parent = ctx.parent
    assert parent is not None
    if not command:
        click.echo(parent.get_help())
        return
    found = main.get_command(parent, command)
    if found is None:
        from sclust.suggest import did_you_mean

        hint = did_you_mean(command, main.list_commands(parent))
        raise SclustError(f"no command {command!r}{hint}")
    with click.Context(found, info_name=found.name, parent=parent) as sub:
        click.echo(found.get_help(sub))


def register_commands() -> None:
    """Command groups that live with their feature (their modules import only click)."""
    from sclust.desktops.cli import cost, desktops
    from sclust.desktops.vnccli import vnc
    from sclust.elastic.cli import loadbalance, simulate
    from sclust.iamcli import iam_policy
    from sclust.localcloud.cli import local
    from sclust.storagecli import COMMANDS as STORAGE_COMMANDS
    from sclust.utilcli import COMMANDS as UTILITY_COMMANDS

    main.add_command(local)
    for command in [*UTILITY_COMMANDS, *STORAGE_COMMANDS]:
        main.add_command(command)
    main.add_command(simulate)
    main.add_command(loadbalance)
    main.add_command(desktops)
    main.add_command(cost)
    main.add_command(vnc)
    main.add_command(iam_policy)


register_commands()


def entry() -> None:
    """The `sclust` program: `main`, in a process that ends with the command."""
    global owns_process
    owns_process = True
    main()


if __name__ == "__main__":
    entry()

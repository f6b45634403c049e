"""`sclust simulate TRACE`: replay a job trace under a scaling policy (or all, `--compare`).

Module-level imports stay at click: `sclust --help` must not pay for the simulator.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import click

from sclust.context import CLUSTER_TAG, FiniteFloat

POLICIES = ("sclust", "starcluster", "idle-timeout", "static")
# --sweep: each policy's own dial (sclust's --wait-target, the idle timeout, StarCluster's -w).
# sclust's dial is continuous: sampled densely where boots make waits (1-3 boots), so a
# baseline point is compared with a sclust setting near it, not with a gap between two.
SWEEP_TARGETS = (30.0, 45.0, 60.0, 90.0, 120.0, 150.0, 180.0, 210.0, 240.0, 270.0, 300.0, 360.0,
                 450.0, 600.0, 900.0, 1200.0, 1800.0, 3600.0, 7200.0, 14400.0)
SWEEP_TIMEOUTS = (60.0, 120.0, 180.0, 300.0, 450.0, 600.0, 900.0, 1200.0)
SWEEP_MAX_WAITS = (60.0, 300.0, 900.0, 1800.0)
CAPPING_REFUSED = 0.10  # share of the work cut by capping wide jobs, without --accept-capping


@click.command("simulate")
@click.argument("trace", type=click.Path(dir_okay=False))
@click.option("--policy", type=click.Choice(POLICIES), default="sclust", show_default=True,
              help="Scaling policy to replay.")
@click.option("--compare", is_flag=True, help="Run every policy side by side and plot them.")
@click.option("--max-nodes", type=click.IntRange(1), default=16, show_default=True,
              help="Most worker nodes (master not counted).")
@click.option("--min-nodes", type=click.IntRange(0), default=0, show_default=True,
              help="Fewest worker nodes, kept even when idle.")
@click.option("--slots-per-node", type=click.IntRange(1), default=8, show_default=True)
@click.option("--boot-time", type=FiniteFloat(0), default=120.0, show_default=True,
              help="Median seconds from launch to exec host (lognormal spread).")
@click.option("--boot-spread", type=FiniteFloat(0), default=0.3, show_default=True,
              help="Sigma of the lognormal boot delay.")
@click.option("--billing", type=click.Choice(["second", "hour"]), default="second",
              show_default=True, help="Per second with a 60 s minimum, or per started hour.")
@click.option("--price", type=FiniteFloat(0), default=0.34, show_default=True,
              help="$ per node-hour.")
@click.option("--seed", type=int, default=1, show_default=True, help="Seed of the boot delays.")
@click.option("--interval", type=FiniteFloat(1), default=30.0, show_default=True,
              help="Seconds between decisions (the StarCluster port keeps its own -i 60).")
@click.option("--idle-timeout", type=FiniteFloat(0), default=None,
              help="idle-timeout policy: seconds idle before removal [600]; with --policy "
                   "sclust: replaces its automatic timeout.")
@click.option("--nodes", type=click.IntRange(0), default=None,
              help="static policy: cluster size [--max-nodes].")
@click.option("--max-wait", type=FiniteFloat(0), default=900.0, show_default=True,
              help="starcluster -w.")
@click.option("--add-per-iteration", type=click.IntRange(1), default=1, show_default=True,
              help="starcluster -a.")
@click.option("--kill-after", type=FiniteFloat(0, 60), default=45.0, show_default=True,
              help="starcluster -k (minutes past the hour).")
@click.option("--stabilization", type=FiniteFloat(0), default=180.0, show_default=True,
              help="starcluster -s.")
@click.option("--wait-target", type=FiniteFloat(0), default=None,
              help="sclust: the wait (s) a job may have before it gets a node of its own; "
              "spends as little as it can while meeting it [none: grow at once].")
@click.option("--sweep", is_flag=True,
              help="With --compare: trace each policy's front (sclust over wait targets, "
              "idle-timeout over 60-1200 s, starcluster over -w) and say whether any baseline "
              "point lies beyond sclust's front.")
@click.option("--ideal", is_flag=True,
              help="Idealised cluster: any number of changes at once, nodes join one by one, "
              "removal instant [default: the live loop's rules].")
@click.option("--removal-time", type=FiniteFloat(0), default=30.0, show_default=True,
              help="Seconds a removal takes after the drain settles (billed).")
@click.option("--launch-failure", type=FiniteFloat(0, 0.99), default=0.0, show_default=True,
              help="Probability that a launch fails (its nodes are removed, launches held).")
@click.option("--boot-samples", type=click.Path(dir_okay=False, exists=True), default=None,
              help="File of measured launch-to-join seconds (one per line; `loadbalance` "
              "appends each launch's to ~/.sclust/loadbalance/TAG/boots.txt): boots are drawn "
              "from them; their median is --boot-time.")
@click.option("--accept-capping", is_flag=True,
              help=f"Replay even when capping jobs wider than the cluster cuts over "
              f"{CAPPING_REFUSED:.0%} of the trace's work.")
@click.option("--limit", type=click.IntRange(1), default=None,
              help="Replay only the first N jobs.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of a table.")
@click.option("--plot", "plot_path", type=click.Path(dir_okay=False), default=None,
              help="Cost-vs-p95-wait PNG [with --compare: TRACE-NAME-compare.png].")
def simulate(trace: str, policy: str, compare: bool, max_nodes: int, min_nodes: int,
             slots_per_node: int, boot_time: float, boot_spread: float, billing: str,
             price: float, seed: int, interval: float, idle_timeout: float | None,
             nodes: int | None, max_wait: float, add_per_iteration: int, kill_after: float,
             stabilization: float, wait_target: float | None, sweep: bool, ideal: bool,
             removal_time: float, launch_failure: float, boot_samples: str | None,
             accept_capping: bool, limit: int | None, as_json: bool,
             plot_path: str | None) -> None:
    """Replay TRACE (SWF, .swf.gz, or `qacct -j` output) through a simulated elastic cluster.

    Prints billed node-hours (split into busy, partly used, idle, booting, draining and billing
    rounding), cost, waits, bounded slowdown and launches, with the lower bound LB0 (no policy
    bills less) and, for scale, the zero-wait clairvoyant reference (not a bound), and whether
    the cluster is saturated (too small for the trace to tell policies apart).
    """
    from sclust.elastic.policies import make_policy
    from sclust.elastic.policy import Settings
    from sclust.elastic.report import beyond_front, front, plot, saturation, table, to_json
    from sclust.elastic.runner import evaluate, prepare
    from sclust.elastic.simulator import SimSettings
    from sclust.errors import SclustError

    if min_nodes > max_nodes:
        raise SclustError(f"--min-nodes {min_nodes} is above --max-nodes {max_nodes}")
    if sweep and not compare:
        raise SclustError("--sweep goes with --compare")
    samples: tuple[float, ...] = ()
    if boot_samples:
        samples = read_boot_samples(boot_samples)
        boot_time = sorted(samples)[len(samples) // 2]
    policy_settings = Settings(
        min_nodes=min_nodes, max_nodes=max_nodes, node_slots=slots_per_node,
        boot_time=boot_time, billing=billing, interval=interval,
    )
    settings = SimSettings(policy=policy_settings, boot_spread=boot_spread, price=price, seed=seed,
                           live=not ideal, boot_samples=samples, launch_failure=launch_failure,
                           removal_time=removal_time)
    parameters: dict[str, dict[str, float | int | None]] = {
        "sclust": {"idle_timeout": idle_timeout, "wait_target": wait_target},
        "starcluster": {"max_wait": max_wait, "add_per_iteration": add_per_iteration,
                        "kill_after": kill_after, "stabilization": stabilization},
        "idle-timeout": {"idle_timeout": idle_timeout},
        "static": {"nodes": nodes},
    }
    names = POLICIES if compare else (policy,)
    policies = [
        make_policy(name, **({} if compare and name == "sclust" and wait_target is None
                             else parameters[name]))
        for name in names
    ]
    workload = prepare(trace, settings, limit)
    cut = f"{workload.cut_share:.1%} of the work"
    if workload.cut_share > CAPPING_REFUSED and not accept_capping:
        raise SclustError(
            f"{workload.capped} jobs are wider than {max_nodes}×{slots_per_node} slots: capping "
            f"them cuts {cut}, and the replay would say little about this trace. Raise "
            "--max-nodes, or --accept-capping to replay anyway")
    if workload.capped:
        click.echo(f"warning: {workload.capped} jobs wider than {max_nodes}×{slots_per_node} "
                   f"slots are capped to that width with the same run time ({cut} cut)",
                   err=True)
    if not as_json:
        click.echo(
            f"{trace}: {len(workload.jobs)} jobs"
            + f"; {max_nodes} nodes × {slots_per_node} slots max, boot {boot_time:g} s"
            + (f" (median of {len(samples)} samples)" if samples else "")
            + f", billing per {billing}, ${price:g}/node-h"
            + ("; idealised cluster" if ideal else "; the live loop's change rules"),
            err=True,
        )
    rows = evaluate(workload, policies, settings)
    static_row = next((r for r in rows if r["policy"] == "static" and nodes is None), None)
    fronts: dict[str, list[dict[str, Any]]] = {}
    if sweep:
        dials: list[tuple[str, str, str, float]] = (
            [("sclust", "wait_target", "sclust w≤{:g}", t) for t in SWEEP_TARGETS]
            + [("idle-timeout", "idle_timeout", "idle-timeout {:g}", t) for t in SWEEP_TIMEOUTS]
            + [("starcluster", "max_wait", "starcluster -w {:g}", t) for t in SWEEP_MAX_WAITS])
        for name, key, label, value in dials:
            params = {**parameters[name], key: value}
            (row,) = evaluate(workload, [make_policy(name, **params)], settings)
            row["policy"], row["dial"] = label.format(value), {key: value}
            fronts.setdefault(name, []).append(row)
    saturated = saturation(rows + [r for points in fronts.values() for r in points], static_row)
    echo = {
        "max_nodes": max_nodes, "min_nodes": min_nodes, "slots_per_node": slots_per_node,
        "boot_time": boot_time, "boot_spread": boot_spread, "boot_samples": len(samples),
        "billing": billing, "price": price, "seed": seed, "interval": interval,
        "live_rules": not ideal, "removal_time": removal_time, "launch_failure": launch_failure,
        "jobs": len(workload.jobs), "capped_jobs": workload.capped,
        "capped_work_share": round(workload.cut_share, 4), "policies": {
            name: {k: v for k, v in parameters[name].items() if v is not None} for name in names
        },
    }
    extra: dict[str, Any] = {}
    verdict: list[str] = []
    if fronts:
        ours = fronts["sclust"]
        beyond = {name: beyond_front(ours, points) for name, points in fronts.items()
                  if name != "sclust"}
        extra = {"fronts": {name: [r["policy"] for r in front(points)]
                            for name, points in fronts.items()},
                 "sweep": fronts,
                 "beyond_sclust_front": {name: [r["policy"] for r in points]
                                         for name, points in beyond.items()}}
        for name, points in beyond.items():
            if not points:
                verdict.append(f"{name}: no point beyond sclust's front")
            for point in points:
                verdict.append(
                    f"{name}: {point['policy']} ({point['node_hours']:.1f} node-h, p95 "
                    f"{point['wait_p95']:.0f} s) is beyond sclust's front: "
                    + nearest(point, ours))
    if compare and plot_path is None:
        stem = Path(trace).name.removesuffix(".gz").removesuffix(".swf")
        plot_path = f"{stem}-compare.png"
    if plot_path:
        title = f"{Path(trace).name}: {max_nodes}×{slots_per_node} slots, boot {boot_time:g} s"
        written = plot(plot_path, title, rows, workload.bounds, price, workload.references,
                       fronts)
        if not as_json:
            click.echo(f"plot: {written}", err=True)
    if as_json:
        click.echo(to_json(trace, echo, workload.bounds, rows, workload.references, saturated,
                           extra))
        return
    click.echo(table(rows, workload.bounds, workload.references, saturated))
    if fronts:
        click.echo("\nfronts (cost vs p95, every point of each policy's dial):")
        click.echo(table([r for points in fronts.values() for r in points], workload.bounds))
        click.echo("\n" + "\n".join(verdict))


def nearest(row: Mapping[str, Any], ours: Sequence[Mapping[str, Any]]) -> str:
    """How far ROW is beyond OURS: the extra cost of our cheapest point at its p95 or better,
    or the extra p95 of our best point at its cost or less."""
    from sclust.elastic.report import p95_key

    at_wait = [o for o in ours if p95_key(o) <= p95_key(row)]
    at_cost = [o for o in ours if o["node_hours"] <= row["node_hours"]]
    parts = []
    if at_wait:
        best = min(at_wait, key=lambda o: o["node_hours"])
        parts.append(f"sclust at that p95 costs {best['node_hours'] / row['node_hours'] - 1:+.1%}"
                     f" ({best['policy']})")
    if at_cost:
        best = min(at_cost, key=p95_key)
        parts.append(f"sclust at that cost waits {best['wait_p95'] - row['wait_p95']:+.0f} s p95"
                     f" ({best['policy']})")
    return "; ".join(parts) or "sclust reaches neither its cost nor its wait"


def read_boot_samples(path: str) -> tuple[float, ...]:
    """Seconds, one per line (blank lines and `#` comments skipped)."""
    from sclust.errors import SclustError

    values = []
    for number, line in enumerate(Path(path).read_text().splitlines(), 1):
        text = line.split("#", 1)[0].strip()
        if not text:
            continue
        try:
            value = float(text)
        except ValueError:
            raise SclustError(f"{path}:{number}: not a number of seconds: {text!r}") from None
        if not 0 <= value < float("inf"):
            raise SclustError(f"{path}:{number}: boot seconds must be finite and >= 0")
        values.append(value)
    if not values:
        raise SclustError(f"{path}: no boot samples")
    return tuple(values)


@click.command("loadbalance")
@click.argument("tag", type=CLUSTER_TAG)
@click.option("-i", "--interval", type=FiniteFloat(1), default=30.0, show_default=True,
              help="Seconds between two looks at the cluster.")
@click.option("-m", "--max-nodes", "--max_nodes", "max_nodes", type=click.IntRange(1),
              default=None, help="Most nodes, the master included (StarCluster's count) "
              "[the cluster's CLUSTER_SIZE].")
@click.option("-n", "--min-nodes", "--min_nodes", "min_nodes", type=click.IntRange(1),
              default=1, show_default=True,
              help="Fewest nodes, the master included: 1 is the master alone.")
@click.option("-w", "--job-wait-time", "--job_wait_time", "max_wait", type=FiniteFloat(0),
              default=0.0, show_default=True,
              help="Grow only once the oldest waiting job waited this many seconds "
              "(StarCluster: 900).")
@click.option("-a", "--add-nodes-per-iteration", "--add_nodes_per_iteration",
              "add_per_iteration", type=click.IntRange(1), default=None,
              help="Launch at most this many nodes at a time [no limit] (StarCluster: 1).")
@click.option("-s", "--stabilization-time", "--stabilization_time", "stabilization",
              type=FiniteFloat(0), default=0.0, show_default=True,
              help="No launch or removal within this many seconds of the last one "
              "(StarCluster: 180).")
@click.option("--idle-timeout", type=FiniteFloat(0), default=None,
              help="Seconds a node idles before it is removed [1.5 x the measured launch "
              "time, at least 60 s].")
@click.option("--wait-target", type=FiniteFloat(0), default=None,
              help="Seconds a job may wait before it gets a node of its own: launches for "
              "younger jobs are put off, idle nodes go sooner the looser it is [none: grow at "
              "once]. `sclust simulate --compare --sweep` shows what each target costs.")
@click.option("--billing", type=click.Choice(["second", "hour"]), default="second",
              show_default=True, help="Per-second billing removes idle nodes by idle time; "
              "hourly keeps them until their paid hour ends.")
@click.option("-K", "--kill-cluster", is_flag=True,
              help="Terminate the cluster once every job seen has ended and it idled for the "
              "idle timeout (asks when starting; --yes does not).")
@click.option("-y", "--yes", is_flag=True, help="Do not ask to confirm -K.")
@click.option("-p", "--plot-stats", is_flag=True,
              help="Draw nodes and jobs over time to loadbalance.png (each minute and at "
              "the end).")
@click.option("-P", "--plot-output-dir", type=click.Path(file_okay=False), default=None,
              help="Directory of -p's PNG [~/.sclust/loadbalance/TAG].")
@click.option("-d", "--dump-stats", is_flag=True, help="Append one CSV row per iteration.")
@click.option("-D", "--dump-stats-file", type=click.Path(dir_okay=False), default=None,
              help="-d's CSV file [~/.sclust/loadbalance/TAG/stats.csv].")
@click.option("--join-grace", type=FiniteFloat(0), default=600.0, show_default=True,
              help="Seconds from its launch a node may take to join Grid Engine; an instance "
              "of the cluster that has not joined by then (or left it) and runs no job is "
              "removed.")
@click.option("--answer-grace", type=FiniteFloat(0), default=120.0, show_default=True,
              help="Seconds a node may stop answering (SSH, or its execd not reporting) "
              "before its jobs are requeued and it is replaced.")
@click.option("--no-reconcile", is_flag=True,
              help="Leave strays, silent nodes and spot notices alone (they are found and "
              "removed by default; a spot node given notice has its jobs requeued at once).")
@click.option("--on-master", is_flag=True,
              help="Install the balancer as a service on the master, with these settings, "
              "and return: it runs with the master's instance role, survives a reboot and "
              "your machine going away. The master gets this very sclust (shipped as a wheel).")
@click.option("--status", "show_status", is_flag=True,
              help="Say whether the master's balancer runs, its version, settings, last line.")
@click.option("--logs", "show_logs", type=click.IntRange(1), default=None, is_flag=False,
              flag_value=200, metavar="[LINES]",
              help="Print the last LINES (200) lines of the master's balancer log.")
@click.option("--off-master", is_flag=True,
              help="Stop the master's balancer (it stays installed; --on-master starts it).")
@click.option("--print-policy", is_flag=True,
              help="Print the least-privilege IAM policy of the master's balancer for TAG.")
@click.option("--dry-run", is_flag=True, help="Print the decisions; change nothing.")
@click.option("--once", is_flag=True,
              help="One iteration (waits for a launch or removal it starts), then exit.")
@click.option("--max-runtime", type=FiniteFloat(0, min_open=True), default=None,
              help="Stop after this many seconds (a change under way is finished first).")
@click.pass_obj
def loadbalance(app: Any, tag: str, interval: float, max_nodes: int | None,
                min_nodes: int, max_wait: float, add_per_iteration: int | None,
                stabilization: float, idle_timeout: float | None,
                wait_target: float | None, billing: str,
                kill_cluster: bool, yes: bool, plot_stats: bool, plot_output_dir: str | None,
                dump_stats: bool, dump_stats_file: str | None, join_grace: float,
                answer_grace: float, no_reconcile: bool, on_master: bool, show_status: bool,
                show_logs: int | None, off_master: bool, print_policy: bool, dry_run: bool,
                once: bool, max_runtime: float | None) -> None:
    """Grow cluster TAG while jobs wait and shrink it while nodes idle, until Ctrl-C.

    Every -i seconds one SSH command on the master reads Grid Engine's queue and hosts; the
    policy that `sclust simulate` replays decides. New nodes launch in the background (they
    count as capacity while booting); an idle node is disabled in the queue, checked idle once
    more, then taken out of SGE and terminated. The master and nodes running jobs are never
    removed. A live table on a terminal, log lines otherwise.

    Reconciliation, each iteration: instances of the cluster that never joined Grid Engine
    are removed after --join-grace, nodes that stop answering after --answer-grace (their jobs
    requeued first), and a spot node whose instance metadata gives an interruption notice is
    disabled and its jobs requeued at once, then removed.
    """
    import logging
    import sys

    from sclust.context import confirm
    from sclust.elastic.live import LoadBalancer, Options
    from sclust.elastic.record import Recorder, output_dir
    from sclust.elastic.view import make_view
    from sclust.errors import SclustError
    from sclust.progress import Progress

    if print_policy:
        from sclust.elastic.balancer_policy import policy_json

        click.echo(policy_json(tag))
        return
    manager = app.manager()
    if show_status or show_logs or off_master:
        from sclust.elastic import onmaster

        action = "stop" if off_master else "logs" if show_logs else "status"
        state = onmaster.control(manager, tag, action, lines=show_logs or 200)
        click.echo(f"balancer on the master of {tag}: {state.state}"
                   + (f" (sclust {state.version})" if state.version else ""))
        if state.args:
            click.echo(f"settings: loadbalance {state.args}")
        if state.last:
            click.echo(f"last: {state.last}")
        if state.log:
            click.echo(state.log)
        return
    manager.progress = Progress(quiet=True)  # the view reports; the operations log
    settings = manager.require_settings(manager.get(tag))
    total_max = max_nodes or settings.cluster_size
    if min_nodes > total_max:
        raise SclustError(f"-n {min_nodes} is above -m {total_max} (both count the master)")
    if on_master:
        from sclust.elastic import onmaster

        refused = [flag for flag, given in (
            ("-K", kill_cluster), ("-p/-P", plot_stats or plot_output_dir), ("-d/-D",
             dump_stats or dump_stats_file), ("--dry-run", dry_run), ("--once", once),
            ("--max-runtime", max_runtime is not None)) if given]
        if refused:
            raise SclustError(f"{', '.join(refused)} cannot go with --on-master (the service "
                              "runs until stopped; its log is `--logs`)")
        args = onmaster.service_args(
            tag, interval, total_max, min_nodes, max_wait, add_per_iteration, stabilization,
            idle_timeout, wait_target, billing, join_grace, answer_grace, no_reconcile)
        click.echo(f"installing the balancer on the master of {tag}: loadbalance "
                   + " ".join(args))
        shipped = onmaster.install(manager, tag, args, getattr(manager.cloud, "region", None))
        click.echo(f"the balancer runs on the master (sclust from {shipped}); "
                   f"`sclust loadbalance {tag} --status` or `--logs` to follow it")
        return
    if kill_cluster and not dry_run:
        confirm(f"Terminate cluster {tag!r} once all its jobs have ended and it is idle?", yes)
    csv_path = (Path(dump_stats_file).expanduser() if dump_stats_file
                else output_dir(tag) / "stats.csv" if dump_stats else None)
    plot_path = ((Path(plot_output_dir).expanduser() if plot_output_dir else output_dir(tag))
                 / "loadbalance.png") if plot_stats or plot_output_dir else None
    options = Options(
        min_nodes=min_nodes - 1, max_nodes=total_max - 1, interval=interval,
        idle_timeout=idle_timeout, wait_target=wait_target, billing=billing, max_wait=max_wait,
        add_per_iteration=add_per_iteration, stabilization=stabilization,
        kill_when_idle=kill_cluster, dry_run=dry_run, once=once, max_runtime=max_runtime,
        boot_log=None if dry_run else output_dir(tag) / "boots.txt",
        reconcile=not no_reconcile, join_grace=join_grace, answer_grace=answer_grace,
    )
    recorder = Recorder(csv_path, plot_path, options.min_nodes, options.max_nodes,
                        f"sclust loadbalance {tag}")
    view = make_view(tag)
    log = logging.getLogger("sclust.loadbalance")

    def say(message: str) -> None:
        log.info(message)
        view.event(message)

    def report(iteration) -> None:
        recorder.add(iteration)
        view.iteration(iteration)

    say(f"load balancing {tag}: {options.min_nodes}-{options.max_nodes} node(s) besides the "
        f"master, every {interval:g} s" + (" (dry run)" if dry_run else "")
        + (f"; stats: {csv_path}" if csv_path else "")
        + (f"; plot: {plot_path}" if plot_path else ""))
    status = 1
    try:
        status = LoadBalancer(manager, tag, options, report, say).run()
    finally:
        view.close()
        written = recorder.plot()
        if written:
            click.echo(f"plot: {written}")
        if csv_path:
            click.echo(f"stats: {csv_path}")
    if status:
        sys.exit(status)

"""`sclust simulate TRACE`: replay a job trace under a scaling policy (or all, `--compare`).

Module-level imports stay at click: `sclust --help` must not pay for the simulator.
"""

from __future__ import annotations

from pathlib import Path

import click

POLICIES = ("sclust", "starcluster", "idle-timeout", "static")


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
@click.option("--boot-time", type=click.FloatRange(0), default=120.0, show_default=True,
              help="Median seconds from launch to exec host (lognormal spread).")
@click.option("--boot-spread", type=click.FloatRange(0), default=0.3, show_default=True,
              help="Sigma of the lognormal boot delay.")
@click.option("--billing", type=click.Choice(["second", "hour"]), default="second",
              show_default=True, help="Per second with a 60 s minimum, or per started hour.")
@click.option("--price", type=click.FloatRange(0), default=0.34, show_default=True,
              help="$ per node-hour.")
@click.option("--seed", type=int, default=1, show_default=True, help="Seed of the boot delays.")
@click.option("--interval", type=click.FloatRange(1), default=30.0, show_default=True,
              help="Seconds between decisions (the StarCluster port keeps its own -i 60).")
@click.option("--idle-timeout", type=click.FloatRange(0), default=None,
              help="idle-timeout policy: seconds idle before removal [600]; with --policy "
                   "sclust: replaces its automatic timeout.")
@click.option("--nodes", type=click.IntRange(0), default=None,
              help="static policy: cluster size [--max-nodes].")
@click.option("--max-wait", type=click.FloatRange(0), default=900.0, show_default=True,
              help="starcluster -w.")
@click.option("--add-per-iteration", type=click.IntRange(1), default=1, show_default=True,
              help="starcluster -a.")
@click.option("--kill-after", type=click.FloatRange(0, 60), default=45.0, show_default=True,
              help="starcluster -k (minutes past the hour).")
@click.option("--stabilization", type=click.FloatRange(0), default=180.0, show_default=True,
              help="starcluster -s.")
@click.option("--limit", type=click.IntRange(1), default=None,
              help="Replay only the first N jobs.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of a table.")
@click.option("--plot", "plot_path", type=click.Path(dir_okay=False), default=None,
              help="Cost-vs-p95-wait PNG [with --compare: TRACE-NAME-compare.png].")
def simulate(trace: str, policy: str, compare: bool, max_nodes: int, min_nodes: int,
             slots_per_node: int, boot_time: float, boot_spread: float, billing: str,
             price: float, seed: int, interval: float, idle_timeout: float | None,
             nodes: int | None, max_wait: float, add_per_iteration: int, kill_after: float,
             stabilization: float, limit: int | None, as_json: bool,
             plot_path: str | None) -> None:
    """Replay TRACE (SWF, .swf.gz, or `qacct -j` output) through a simulated elastic cluster.

    Prints billed node-hours, cost, waits, bounded slowdown, makespan and launches, with the
    lower bounds LB0 (perfect packing) and OPT (clairvoyant, zero wait) for the same settings.
    """
    from cluster.elastic.policy import Settings, make_policy
    from cluster.elastic.report import plot, table, to_json
    from cluster.elastic.runner import evaluate, prepare
    from cluster.elastic.simulator import SimSettings
    from cluster.errors import SclustError

    if min_nodes > max_nodes:
        raise SclustError(f"--min-nodes {min_nodes} is above --max-nodes {max_nodes}")
    policy_settings = Settings(
        min_nodes=min_nodes, max_nodes=max_nodes, node_slots=slots_per_node,
        boot_time=boot_time, billing=billing, interval=interval,
    )
    settings = SimSettings(policy=policy_settings, boot_spread=boot_spread, price=price, seed=seed)
    parameters = {
        "sclust": {"idle_timeout": idle_timeout},
        "starcluster": {"max_wait": max_wait, "add_per_iteration": add_per_iteration,
                        "kill_after": kill_after, "stabilization": stabilization},
        "idle-timeout": {"idle_timeout": idle_timeout},
        "static": {"nodes": nodes},
    }
    names = POLICIES if compare else (policy,)
    policies = [
        make_policy(name, **({} if compare and name == "sclust" else parameters[name]))
        for name in names
    ]
    workload = prepare(trace, settings, limit)
    if not as_json:
        click.echo(
            f"{trace}: {len(workload.jobs)} jobs"
            + (f" ({workload.capped} wider than {max_nodes}×{slots_per_node} slots, capped)"
               if workload.capped else "")
            + f"; {max_nodes} nodes × {slots_per_node} slots max, boot {boot_time:g} s, "
            f"billing per {billing}, ${price:g}/node-h",
            err=True,
        )
    rows = evaluate(workload, policies, settings)
    echo = {
        "max_nodes": max_nodes, "min_nodes": min_nodes, "slots_per_node": slots_per_node,
        "boot_time": boot_time, "boot_spread": boot_spread, "billing": billing, "price": price,
        "seed": seed, "interval": interval, "jobs": len(workload.jobs),
        "capped_jobs": workload.capped, "policies": {
            name: {k: v for k, v in parameters[name].items() if v is not None} for name in names
        },
    }
    if compare and plot_path is None:
        stem = Path(trace).name.removesuffix(".gz").removesuffix(".swf")
        plot_path = f"{stem}-compare.png"
    if plot_path:
        title = f"{Path(trace).name}: {max_nodes}×{slots_per_node} slots, boot {boot_time:g} s"
        written = plot(plot_path, title, rows, workload.bounds, price)
        if not as_json:
            click.echo(f"plot: {written}", err=True)
    if as_json:
        click.echo(to_json(trace, echo, workload.bounds, rows))
    else:
        click.echo(table(rows, workload.bounds))

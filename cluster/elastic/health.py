"""The balancer's look at its workers for reconciliation: one `node-health.sh` per worker, in
parallel over the loop's reused SSH connections (a node that does not answer in time is
`Probe(alive=False)`, never an error of the loop)."""

from __future__ import annotations

from collections.abc import Callable

from sclust.configure import Configurator
from sclust.elastic.reconcile import Probe, parse_probe
from sclust.scripts import ScriptFile, ScriptRun
from sclust.ssh import fan_out
from sclust.state import Node

PROBE_TIMEOUT = 20.0  # s: a node slower than this to run an echo and two curls is not healthy


def health_run() -> ScriptRun:
    return ScriptRun().add(ScriptFile("sclust", "scripts/node-health.sh"))


def probe_workers(configurator: Configurator, nodes: list[Node],
                  host_name: Callable[[Node], str]) -> dict[str, Probe]:
    """Each node's Probe, by host name."""
    run = health_run()

    def probe(node: Node) -> Probe:
        connection = configurator.connection(node)
        try:
            return parse_probe(connection.run_script(run, timeout=PROBE_TIMEOUT,
                                                     check=False).stdout)
        except Exception:
            connection.close()  # reconnect next time
            raise

    results = fan_out(nodes, probe, name=lambda n: n.alias)
    probes = {}
    for node in nodes:
        result = results.get(node.alias)
        probes[host_name(node)] = result if isinstance(result, Probe) else Probe(alive=False)
    return probes

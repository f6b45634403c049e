"""The policies by the names the CLI knows them by: sclust's own and the baselines."""

from __future__ import annotations

from sclust.elastic import baselines
from sclust.elastic.policy import Policy, SclustPolicy


def make_policy(name: str, **params: float | int | None) -> Policy:
    """A policy by its CLI name with its parameters (unknown names raise ValueError)."""
    registry: dict[str, type] = {
        "sclust": SclustPolicy,
        "starcluster": baselines.StarClusterPolicy,
        "idle-timeout": baselines.IdleTimeoutPolicy,
        "static": baselines.StaticPolicy,
    }
    if name not in registry:
        raise ValueError(f"unknown policy {name!r}; choose from {', '.join(registry)}")
    given = {k: v for k, v in params.items() if v is not None}
    return registry[name](**given)

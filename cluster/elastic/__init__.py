"""Elastic scaling: the policy (pure), its inputs, the trace simulator and its bounds.

`policy.Policy.decide(stats, settings, memory)` is the one decision function; the live
`sclust loadbalance` loop and `sclust simulate` both call it.
"""

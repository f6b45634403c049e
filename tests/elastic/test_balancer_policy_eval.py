# ruff: noqa: F811  (the fixtures imported below are parameters of the tests)
"""The balancer's IAM policy against the requests sclust really sends (moto, botocore's wire
format), judged by the local cloud's IAM evaluator: launching and removing a node of its own
cluster is allowed, terminating another cluster's instance is not."""

from __future__ import annotations

from sclust.elastic.balancer_policy import balancer_iam_policy
from sclust.localcloud.iam_eval import first_refused
from sclust.localcloud.iam_requests import Ec2Requests, form_params
from tests.test_ec2_faults import (  # noqa: F401  (cloud, manager: fixtures)
    cloud,
    manager,
    template_for,
)


def judged(cloud, bodies: list[bytes], tag: str):
    def tags_of(resource_id: str) -> dict[str, str]:
        reply = cloud.client.describe_tags(
            Filters=[{"Name": "resource-id", "Values": [resource_id]}])
        return {t["Key"]: t["Value"] for t in reply["Tags"]}

    requests = Ec2Requests(cloud.client.meta.region_name, "123456789012", tags_of)
    policy = balancer_iam_policy(tag)
    return [(form_params({"QUERY_STRING": ""}, body).get("Action", ["?"])[0],
             first_refused([policy], requests.checks(form_params({"QUERY_STRING": ""}, body))))
            for body in bodies]


def test_the_balancer_may_grow_and_shrink_its_cluster_and_touch_no_other(
        tmp_path, key_file, cloud, manager) -> None:
    template = template_for(tmp_path, key_file, cloud, size=1)
    manager.start("pol", template, configure=False)
    other = manager.start("other", template, configure=False)
    sent: list[bytes] = []

    def record(request, **_) -> None:
        body = request.body or b""
        sent.append(body.encode() if isinstance(body, str) else bytes(body))

    cloud.client.meta.events.register("before-send.ec2", record)
    manager.add_nodes("pol", 1, ["node001"], configure=False)
    manager.remove_nodes("pol", ["node001"], 0, keep=False, configure=False)
    ours = list(sent)
    sent.clear()
    assert other.master is not None
    cloud.terminate_instances([other.master.instance_id])
    theirs = list(sent)
    cloud.client.meta.events.unregister("before-send.ec2", record)

    verdicts = judged(cloud, ours, "pol")
    actions = {action for action, _ in verdicts}
    assert {"RunInstances", "TerminateInstances", "DescribeInstances"} <= actions
    assert [(a, r) for a, r in verdicts if r is not None] == []
    refused = [(a, r) for a, r in judged(cloud, theirs, "pol") if a == "TerminateInstances"]
    assert refused and all(r is not None for _, r in refused)

"""A least-privilege instructor on the local cloud with IAM enforcement on: the operator gives
IAM user `ana` the policy of course `bio` (`sclust iam-policy instructor bio --apply ana`);
with ana's keys, `sclust desktops list/stop/start bio` work, and terminating the course,
launching a desktop into it and stopping another course are refused with one sclust error
line (no traceback), leaving every instance as it was."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from desktops_helpers import course_config
from iam_helpers import delete_user
from localcloud_helpers import describe

from tests.conftest import run_sclust


@pytest.fixture
def courses(cloud, tmp_path: Path):
    config = course_config(cloud, tmp_path, "bio", 1, """\
        [desktops chem]
        EXTENDS = bio
        ELASTIC_IPS = False
        """)
    env = {"SCLUST_LOCAL_DIR": str(cloud.state_dir)}
    ctx = {"config": config, "env": env, "cloud": cloud, "tmp": tmp_path}
    yield ctx
    for course in ("bio", "chem"):
        run_sclust("-c", str(config), "desktops", "terminate", course, "--yes", env=env,
                   timeout=300)
    delete_user(cloud, "ana")


def operator(ctx: dict, *args: str):
    result = run_sclust("-c", str(ctx["config"]), *args, env=ctx["env"], timeout=300)
    assert result.returncode == 0, f"sclust {' '.join(args)}:\n{result.stderr}"
    return result


def instructor_config(ctx: dict, keys: dict[str, str]) -> Path:
    """The instructor's config: the course's template, ana's keys, the endpoint as AWS's."""
    config = ctx["tmp"] / "instructor-config"
    template = ctx["config"].read_text().replace("CLOUD = local", "")
    config.write_text(template + textwrap.dedent(f"""
        [aws info]
        AWS_ACCESS_KEY_ID = {keys['AWS_ACCESS_KEY_ID']}
        AWS_SECRET_ACCESS_KEY = {keys['AWS_SECRET_ACCESS_KEY']}
        AWS_ENDPOINT_URL = {ctx['cloud'].url}
        AWS_REGION_NAME = us-east-1
        """))
    config.chmod(0o600)
    return config


def states(cloud, ids: list[str]) -> list[str]:
    return [i["State"]["Name"] for i in describe(cloud, ids)]


def test_an_instructor_may_start_and_stop_the_course_and_nothing_else(courses) -> None:
    cloud = courses["cloud"]
    operator(courses, "desktops", "start", "bio")
    operator(courses, "desktops", "start", "chem", "--no-setup")
    bio = json.loads(operator(courses, "desktops", "list", "bio", "--json").stdout)
    chem = json.loads(operator(courses, "desktops", "list", "chem", "--json").stdout)
    bio_ids, chem_ids = [d["instance_id"] for d in bio], [d["instance_id"] for d in chem]

    applied = operator(courses, "iam-policy", "instructor", "bio", "--apply", "ana")
    keys = dict(line.split(" = ", 1) for line in applied.stdout.splitlines() if " = " in line)
    assert keys["AWS_ACCESS_KEY_ID"].startswith("AKIA")
    assert keys["AWS_SECRET_ACCESS_KEY"] not in applied.stderr  # the secret: stdout only
    assert "shown once" in applied.stderr
    policy = cloud.client("iam").get_user_policy(UserName="ana",
                                                 PolicyName="sclust-instructor-bio")
    assert policy["PolicyDocument"]["Statement"][1]["Condition"] == {
        "StringEquals": {"aws:ResourceTag/sclust:desktops": "bio"}}
    # Applied again: the policy is updated, no second key is made (nor any secret printed).
    again = operator(courses, "iam-policy", "instructor", "bio", "--apply", "ana")
    assert "AWS_SECRET_ACCESS_KEY" not in again.stdout and "already has" in again.stderr

    config = instructor_config(courses, keys)

    def as_ana(*args: str, ok: bool = True):
        result = run_sclust("-c", str(config), *args,
                            timeout=300)
        assert "Traceback" not in result.stderr
        if ok:
            assert result.returncode == 0, f"sclust {' '.join(args)}:\n{result.stderr}"
        else:
            last = result.stderr.strip().splitlines()[-1]
            assert result.returncode == 1 and last.startswith("sclust: error:"), result.stderr
        return result

    listed = json.loads(as_ana("desktops", "list", "bio", "--json").stdout)
    assert [d["instance_id"] for d in listed] == bio_ids
    as_ana("desktops", "stop", "bio", "--yes")
    assert states(cloud, bio_ids) == ["stopped"]
    as_ana("desktops", "start", "bio")  # and waits until its noVNC answers again
    assert states(cloud, bio_ids) == ["running"]

    refused = as_ana("desktops", "terminate", "bio", "--yes", ok=False)
    assert "UnauthorizedOperation" in refused.stderr
    assert "ec2:TerminateInstances" in refused.stderr
    assert "check their IAM policy" in refused.stderr
    refused = as_ana("desktops", "start", "bio", "2", ok=False)  # a new desktop: a launch
    assert "UnauthorizedOperation" in refused.stderr and "ec2:RunInstances" in refused.stderr
    refused = as_ana("desktops", "stop", "chem", "--yes", ok=False)
    assert "UnauthorizedOperation" in refused.stderr and "ec2:StopInstances" in refused.stderr
    assert chem_ids[0] in refused.stderr
    assert states(cloud, bio_ids) == ["running"] and states(cloud, chem_ids) == ["running"]
    assert len(json.loads(operator(courses, "desktops", "list", "bio", "--json").stdout)) == 1

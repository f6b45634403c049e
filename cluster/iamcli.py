"""`sclust iam-policy …`: parse, call one operation, print (only click at start-up)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from sclust.context import COURSE_NAME

if TYPE_CHECKING:
    from sclust.context import AppContext


@click.group("iam-policy")
def iam_policy() -> None:
    """IAM policies for sclust's users: a least-privilege instructor, and sclust itself.

    \b
      sclust iam-policy instructor bio101               print the course's instructor policy
      sclust iam-policy instructor bio101 --apply ana   …and give it to IAM user ana (keys once)
      sclust iam-policy instructor mycluster --cluster  the same for a cluster's nodes
      sclust iam-policy operator                        what sclust itself calls
    """


@iam_policy.command("instructor")
@click.argument("name", type=COURSE_NAME)
@click.option("--cluster", "is_cluster", is_flag=True,
              help="NAME is a cluster tag (sclust:cluster), not a course (sclust:desktops).")
@click.option("--apply", "user", metavar="USER",
              help="Create or update IAM user USER with this policy (inline, named "
                   "sclust-instructor-NAME); a new user gets an access key, printed once.")
@click.option("--new-key", is_flag=True,
              help="With --apply: make another access key even if USER has one.")
@click.pass_obj
def instructor(app: AppContext, name: str, is_cluster: bool, user: str | None,
               new_key: bool) -> None:
    """A policy that may only describe, and start, stop and reboot the instances tagged for
    course NAME (or cluster NAME): enough for `sclust desktops list/start/stop NAME` of the
    desktops the course has (for a cluster: `listclusters`, `stop`, `start -x` and `restart`
    of its nodes, as long as nothing needs repair), and not for RunInstances,
    TerminateInstances, nor any other course's or cluster's instances.

    Without --apply, the policy is printed (JSON) for the IAM console or `aws iam
    put-user-policy`. With --apply, the secret access key is printed on standard output once
    and nowhere else (never logged, never stored): copy it into the instructor's [aws info]
    (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY) right away.
    """
    from sclust.iampolicy import dumps, instructor_policy

    policy = instructor_policy(name, cluster=is_cluster)
    if user is None:
        if new_key:
            raise click.UsageError("--new-key goes with --apply USER")
        click.echo(dumps(policy))
        return
    import re

    from sclust.connect import open_iam

    if not re.fullmatch(r"[\w+=,.@-]{1,64}", user, re.ASCII):
        raise click.BadParameter(f"{user[:80]!r} is not an IAM user name (letters, digits and "
                                 "+=,.@_-, at most 64)", param_hint="USER")
    applied = open_iam(app.config).apply_user(user, f"sclust-instructor-{name}", policy,
                                              new_key=new_key)
    what = "created" if applied.created else "updated"
    click.echo(f"IAM user {user} {what}: inline policy {applied.policy_name} "
               f"({'cluster' if is_cluster else 'course'} {name})", err=True)
    if applied.key is None:
        click.echo(f"{user} already has access key(s) {', '.join(applied.existing_keys)}: none "
                   "made (their secrets cannot be shown again; --new-key makes another)",
                   err=True)
        return
    click.echo("the secret below is shown once, here only: put it in the instructor's "
               "[aws info] now", err=True)
    click.echo("[aws info]")
    click.echo(f"AWS_ACCESS_KEY_ID = {applied.key.access_key_id}")
    click.echo(f"AWS_SECRET_ACCESS_KEY = {applied.key.secret_access_key}")


@iam_policy.command("operator")
def operator() -> None:
    """The policy sclust itself needs (EC2, IAM for IAM_PROFILE and instructors, EFS): give it
    to whoever runs `sclust start` and `sclust desktops start`."""
    from sclust.iampolicy import dumps, operator_policy

    click.echo(dumps(operator_policy()))

"""IAM enforcement at the endpoint: a request signed by an IAM user or a role session is
allowed or refused by that identity's policies (iam_eval) for the checks its request makes
(iam_requests); refusals in each service's own format (EC2's UnauthorizedOperation, S3's and
IAM's AccessDenied). Call with the cloud's lock held."""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from typing import Any

from sclust.localcloud import auth, iam_eval, iam_requests
from sclust.localcloud.identity import Identity, iam_backend

Response = tuple[str, list[tuple[str, str]], bytes]
# Needs no permission on AWS.
ALWAYS_ALLOWED = {("sts", "GetCallerIdentity")}


def roles_of_profile(account: str, profile: str) -> list[str]:
    """ARNs of the roles of an instance profile given by name or ARN (none if unknown)."""
    iam = iam_backend(account)
    try:
        found = iam.get_instance_profile_by_arn(profile) if profile.startswith("arn:") \
            else iam.get_instance_profile(profile)
    except Exception:
        return []
    return [role.arn for role in found.roles]


def checks_of(service: str, environ: Mapping[str, Any], body: bytes, region: str,
              account: str, ec2_tags: Any) -> tuple[str, list[iam_eval.Check]]:
    """(action name, checks) of a request to `service`."""
    if service == "s3":
        checks = iam_requests.s3_checks(environ, body, region)
        return checks[0].action, checks
    target = environ.get("HTTP_X_AMZ_TARGET")
    if target:  # JSON protocols: Service_Version.Action
        action = target.rsplit(".", 1)[-1]
        return f"{service}:{action}", iam_requests.generic_checks(service, action)
    params = iam_requests.form_params(environ, body)
    action = (params.get("Action") or ["Unknown"])[0]
    if service == "ec2":
        requests = iam_requests.Ec2Requests(
            region, account, ec2_tags, lambda profile: roles_of_profile(account, profile))
        return f"ec2:{action}", requests.checks(params)
    if service == "iam":
        return f"iam:{action}", iam_requests.iam_checks(params, account)
    if service == "sts" and action == "AssumeRole":
        role = (params.get("RoleArn") or ["*"])[0]
        return "sts:AssumeRole", [iam_eval.Check("sts:AssumeRole", role, {})]
    return f"{service}:{action}", iam_requests.generic_checks(service, action)


def refusal_of(identity: Identity, service: str, environ: Mapping[str, Any], body: bytes,
               region: str, ec2_tags: Any) -> Response | None:
    """None when `identity` may make this request; otherwise AWS's refusal of it."""
    if identity.is_root:
        return None
    action, checks = checks_of(service, environ, body, region, identity.account, ec2_tags)
    # The principal's own keys hold for every check (and fill ${aws:username} & co.).
    checks = [iam_eval.Check(c.action, c.resource, {**identity.context(), **c.context})
              for c in checks]
    if (service, action.split(":", 1)[-1]) in ALWAYS_ALLOWED:
        return None
    if action.endswith(":Unknown"):
        # A REST protocol whose operation the checks cannot name (e.g. EventBridge
        # Scheduler): judged on `*` it could pass as a read while deleting. Refused.
        return _deny(service, environ, identity, checks[0],
                     "because the local cloud cannot tell which action this request is "
                     "(only its own credentials may use this service)")
    try:
        refused = iam_eval.first_refused(identity.policies, checks)
        if refused is None and identity.session_policy:
            refused = iam_eval.first_refused([identity.session_policy], checks)
    except iam_eval.PolicyError as error:
        reason = f"because a policy of {identity.arn} cannot be read: {error}"
        return _deny(service, environ, identity, checks[0], reason)
    if action == "sts:AssumeRole":
        # Same account, as AWS: a trust policy naming the caller itself suffices (unless the
        # caller's policies deny it); one naming the account needs the caller's Allow too.
        trust = _trust(identity, checks[0].resource)
        if trust is None:
            return _deny(service, environ, identity, checks[0],
                         "because the role's trust policy does not allow it")
        if trust == "named" and (refused is None or refused[1] != "ExplicitDeny"):
            return None
    if refused is None:
        return None
    check, decision = refused
    why = ("with an explicit deny in an identity-based policy" if decision == "ExplicitDeny"
           else f"because no identity-based policy allows the {check.action} action")
    return _deny(service, environ, identity, check, why)


def _trust(identity: Identity, role_arn: str) -> str | None:
    """Whom the role's trust policy lets assume it: "named" (this identity itself), "account"
    (its account, or anyone), or None."""
    try:
        role = iam_backend(identity.account).get_role_by_arn(role_arn)
    except Exception:
        return None
    named = {identity.arn} | ({identity.role_arn} if identity.role_arn else set())
    principals = {f"arn:aws:iam::{identity.account}:root", identity.account, "*"}
    try:
        statements = iam_eval.parse_policy(role.assume_role_policy_document)
    except iam_eval.PolicyError:
        return None
    found = None
    for statement in statements:
        if statement.get("Effect") != "Allow":
            continue
        actions = statement.get("Action", [])
        actions = [actions] if isinstance(actions, str) else actions
        if not any(a in ("sts:AssumeRole", "sts:*", "*") for a in actions):
            continue
        principal = statement.get("Principal", {})
        if principal == "*":
            found = "account"
            continue
        aws = principal.get("AWS", []) if isinstance(principal, dict) else []
        aws = set([aws] if isinstance(aws, str) else aws)
        if named & aws:
            return "named"
        if principals & aws:
            found = "account"
    return found


def _deny(service: str, environ: Mapping[str, Any], identity: Identity,
          check: iam_eval.Check, why: str) -> Response:
    request_id = str(uuid.uuid4())
    message = (f"User: {identity.arn} is not authorized to perform: {check.action} "
               f"on resource: {check.resource} {why}")
    if service == "ec2":
        text = ("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error>"
                "<Code>UnauthorizedOperation</Code><Message>You are not authorized to perform "
                f"this operation. {auth.xml_escape(message)}</Message></Error></Errors>"
                f"<RequestID>{request_id}</RequestID></Response>")
        return "403 Forbidden", [("Content-Type", "text/xml")], text.encode()
    if service == "s3":
        text = ("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>AccessDenied</Code>"
                f"<Message>{auth.xml_escape(message)}</Message><RequestId>{request_id}</RequestId></Error>")
        return "403 Forbidden", [("Content-Type", "application/xml")], text.encode()
    if environ.get("HTTP_X_AMZ_TARGET"):
        data = json.dumps({"__type": "AccessDeniedException", "message": message}).encode()
        return "400 Bad Request", [("Content-Type", "application/x-amz-json-1.1")], data
    text = ("<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code>"
            f"<Message>{auth.xml_escape(message)}</Message></Error>"
            f"<RequestId>{request_id}</RequestId></ErrorResponse>")
    return "403 Forbidden", [("Content-Type", "text/xml")], text.encode()


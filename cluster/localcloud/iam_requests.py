"""What a request asks IAM for: its action(s), the ARN of each resource it acts on and the
condition keys of each (`aws:ResourceTag/…` and `ec2:ResourceTag/…` from moto's tags of the
resource, `aws:RequestTag/…` and `aws:TagKeys` from TagSpecifications / CreateTags, `ec2:Region`,
`ec2:CreateAction`, `s3:prefix`). Call with the cloud's lock held (reads moto's EC2 tags).

EC2 actions without resource-level permissions (Describe*, and those not mapped here) ask for
resource `*`, so only a policy statement with `Resource: *` allows them."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import parse_qs, unquote

from sclust.localcloud.iam_eval import Check

# EC2 id prefixes → resource type in ARNs.
_KINDS = {
    "i": "instance", "vol": "volume", "sg": "security-group", "subnet": "subnet", "vpc": "vpc",
    "eni": "network-interface", "eipalloc": "elastic-ip", "ami": "image", "snap": "snapshot",
    "key": "key-pair", "igw": "internet-gateway", "rtb": "route-table", "acl": "network-acl",
    "lt": "launch-template", "dopt": "dhcp-options", "sir": "spot-instances-request",
    "pl": "prefix-list", "nat": "natgateway", "vpce": "vpc-endpoint",
    "pcx": "vpc-peering-connection",
}
# Images and snapshots have no account in their ARN.
_NO_ACCOUNT = {"image", "snapshot"}
_INSTANCE_LIST_ACTIONS = {"StartInstances", "StopInstances", "TerminateInstances",
                          "RebootInstances", "MonitorInstances", "UnmonitorInstances"}
_INSTANCE_ACTIONS = {"ModifyInstanceAttribute", "ResetInstanceAttribute", "GetConsoleOutput",
                     "GetConsoleScreenshot", "GetPasswordData", "ModifyInstanceMetadataOptions",
                     "AssociateIamInstanceProfile", "CreateImage"}
_VOLUME_ACTIONS = {"DeleteVolume", "ModifyVolume", "EnableVolumeIO", "ModifyVolumeAttribute"}
_GROUP_ACTIONS = {"DeleteSecurityGroup", "AuthorizeSecurityGroupIngress",
                  "AuthorizeSecurityGroupEgress", "RevokeSecurityGroupIngress",
                  "RevokeSecurityGroupEgress", "UpdateSecurityGroupRuleDescriptionsIngress",
                  "UpdateSecurityGroupRuleDescriptionsEgress", "ModifySecurityGroupRules"}
# Creations whose TagSpecifications also need ec2:CreateTags (with ec2:CreateAction), as on AWS.
_CREATED = {"RunInstances": "instance", "CreateVolume": "volume",
            "CreateSecurityGroup": "security-group", "AllocateAddress": "elastic-ip",
            "CreateKeyPair": "key-pair", "ImportKeyPair": "key-pair", "CreateImage": "image",
            "CreateSnapshot": "snapshot", "CreateLaunchTemplate": "launch-template"}

Params = Mapping[str, list[str]]


def form_params(environ: Mapping[str, Any], body: bytes) -> dict[str, list[str]]:
    params = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
    if body and b"=" in body[:200] and not body.lstrip().startswith((b"{", b"<")):
        for key, values in parse_qs(body.decode(errors="replace"),
                                    keep_blank_values=True).items():
            params.setdefault(key, []).extend(values)
    return params


def _numbered(params: Params, prefix: str) -> list[str]:
    """Values of PREFIX.1, PREFIX.2, … (EC2's list parameters)."""
    found = []
    pattern = re.compile(re.escape(prefix) + r"\.(\d+)$")
    for key, values in params.items():
        match = pattern.match(key)
        if match and values:
            found.append((int(match.group(1)), values[0]))
    return [v for _, v in sorted(found)]


def _first(params: Params, name: str) -> str | None:
    values = params.get(name)
    return values[0] if values else None


def _tag_specs(params: Params) -> dict[str, dict[str, str]]:
    """TagSpecification.N.ResourceType → {key: value}."""
    specs: dict[str, dict[str, str]] = {}
    for n in range(1, 50):
        kind = _first(params, f"TagSpecification.{n}.ResourceType")
        if kind is None:
            break
        tags = specs.setdefault(kind, {})
        for m in range(1, 51):
            key = _first(params, f"TagSpecification.{n}.Tag.{m}.Key")
            if key is None:
                break
            tags[key] = _first(params, f"TagSpecification.{n}.Tag.{m}.Value") or ""
    return specs


def _request_tags(tags: Mapping[str, str]) -> dict[str, Any]:
    context: dict[str, Any] = {f"aws:RequestTag/{k}": v for k, v in tags.items()}
    if tags:
        context["aws:TagKeys"] = list(tags)
    return context


class Ec2Requests:
    """The checks of one EC2 query-protocol request."""

    def __init__(self, region: str, account: str, tags_of: Callable[[str], Mapping[str, str]],
                 roles_of_profile: Callable[[str], list[str]] | None = None):
        self.region = region
        self.account = account
        self.tags_of = tags_of
        # instance profile name or ARN → ARNs of its roles (for iam:PassRole)
        self.roles_of_profile = roles_of_profile or (lambda profile: [])

    def arn(self, kind: str, ident: str) -> str:
        account = "" if kind in _NO_ACCOUNT else self.account
        return f"arn:aws:ec2:{self.region}:{account}:{kind}/{ident}"

    def arn_of_id(self, ident: str) -> str:
        kind = _KINDS.get(ident.split("-", 1)[0]) if "-" in ident else None
        return self.arn(kind, ident) if kind else "*"

    def base(self) -> dict[str, Any]:
        return {"ec2:Region": self.region, "aws:RequestedRegion": self.region}

    def existing(self, ident: str, extra: Mapping[str, Any] | None = None) -> tuple[str, dict]:
        context = self.base()
        for key, value in self.tags_of(ident).items():
            context[f"aws:ResourceTag/{key}"] = value
            context[f"ec2:ResourceTag/{key}"] = value
        context.update(extra or {})
        return self.arn_of_id(ident), context

    def checks(self, params: Params) -> list[Check]:
        action = _first(params, "Action") or ""
        name = "ec2:" + action
        resources: list[tuple[str, dict[str, Any]]] = []
        ids: list[str] = []
        if action.startswith("Describe") or (action.startswith("Get")
                                             and action not in _INSTANCE_ACTIONS):
            return [Check(name, "*", self.base())]
        if action in _INSTANCE_LIST_ACTIONS:
            ids = _numbered(params, "InstanceId")
        elif action in _INSTANCE_ACTIONS:
            ids = [i for i in [_first(params, "InstanceId")] if i]
        elif action in _VOLUME_ACTIONS:
            ids = [i for i in [_first(params, "VolumeId")] if i]
        elif action in ("AttachVolume", "DetachVolume"):
            ids = [i for i in [_first(params, "VolumeId"), _first(params, "InstanceId")] if i]
        elif action in _GROUP_ACTIONS:
            ids = [i for i in [_first(params, "GroupId")] if i]
        elif action in ("DeleteSnapshot", "ModifySnapshotAttribute"):
            ids = [i for i in [_first(params, "SnapshotId")] if i]
        elif action in ("DeregisterImage", "ModifyImageAttribute"):
            ids = [i for i in [_first(params, "ImageId")] if i]
        elif action in ("ReleaseAddress", "DisassociateAddress"):
            ids = [i for i in [_first(params, "AllocationId")] if i]
        elif action == "AssociateAddress":
            ids = [i for i in [_first(params, "AllocationId"), _first(params, "InstanceId"),
                               _first(params, "NetworkInterfaceId")] if i]
        elif action in ("CreateTags", "DeleteTags"):
            tags = {}
            for n in range(1, 51):
                key = _first(params, f"Tag.{n}.Key")
                if key is None:
                    break
                tags[key] = _first(params, f"Tag.{n}.Value") or ""
            extra = _request_tags(tags)
            if action == "DeleteTags":  # only the keys are in the request
                extra = {"aws:TagKeys": list(tags)} if tags else {}
            resources = [self.existing(i, extra) for i in _numbered(params, "ResourceId")]
        elif action == "RunInstances":
            resources = self._run_instances(params)
        elif action == "DeleteKeyPair":
            key_name = _first(params, "KeyName")
            if key_name:
                resources = [(self.arn("key-pair", key_name), self.base())]
        if action in _CREATED and action != "RunInstances":
            kind = _CREATED[action]
            specs = _tag_specs(params)
            resources.append((self.arn(kind, "*"),
                              {**self.base(), **_request_tags(specs.get(kind, {}))}))
        resources += [self.existing(i) for i in ids]
        if not resources:
            resources = [("*", self.base())]
        checks = [Check(name, arn, context) for arn, context in resources]
        # Giving an instance a role needs iam:PassRole on that role.
        profile = _first(params, "IamInstanceProfile.Arn") or \
            _first(params, "IamInstanceProfile.Name")
        if profile and action in ("RunInstances", "AssociateIamInstanceProfile",
                                  "ReplaceIamInstanceProfileAssociation"):
            checks += [Check("iam:PassRole", role,
                             {"iam:PassedToService": "ec2.amazonaws.com"})
                       for role in self.roles_of_profile(profile)]
        # Tagging at creation also needs ec2:CreateTags on what is tagged.
        if action in _CREATED:
            for kind, tags in _tag_specs(params).items():
                if tags:
                    context = {**self.base(), **_request_tags(tags),
                               "ec2:CreateAction": action}
                    checks.append(Check("ec2:CreateTags", self.arn(kind, "*"), context))
        return checks

    def _run_instances(self, params: Params) -> list[tuple[str, dict[str, Any]]]:
        specs = _tag_specs(params)
        base = self.base()
        found: list[tuple[str, dict[str, Any]]] = [
            (self.arn("instance", "*"), {**base, **_request_tags(specs.get("instance", {}))}),
            (self.arn("volume", "*"), {**base, **_request_tags(specs.get("volume", {}))}),
            (self.arn("network-interface", "*"),
             {**base, **_request_tags(specs.get("network-interface", {}))}),
        ]
        image = _first(params, "ImageId")
        if image:
            found.append(self.existing(image))
        subnet = _first(params, "SubnetId") or _first(params, "NetworkInterface.1.SubnetId")
        found.append(self.existing(subnet) if subnet else (self.arn("subnet", "*"), base))
        groups = _numbered(params, "SecurityGroupId")
        found += [self.existing(g) for g in groups]
        if _numbered(params, "SecurityGroup") or not groups:
            found.append((self.arn("security-group", "*"), base))
        key = _first(params, "KeyName")
        if key:
            found.append((self.arn("key-pair", key), base))
        return found


# --- S3 ----------------------------------------------------------------------------------------

_BUCKET_SUBRESOURCES = {
    # subresource → (GET, PUT, DELETE) action names
    "policy": ("GetBucketPolicy", "PutBucketPolicy", "DeleteBucketPolicy"),
    "tagging": ("GetBucketTagging", "PutBucketTagging", "PutBucketTagging"),
    "acl": ("GetBucketAcl", "PutBucketAcl", None),
    "versioning": ("GetBucketVersioning", "PutBucketVersioning", None),
    "location": ("GetBucketLocation", None, None),
    "cors": ("GetBucketCORS", "PutBucketCORS", "PutBucketCORS"),
    "lifecycle": ("GetLifecycleConfiguration", "PutLifecycleConfiguration",
                  "PutLifecycleConfiguration"),
    "encryption": ("GetEncryptionConfiguration", "PutEncryptionConfiguration",
                   "PutEncryptionConfiguration"),
    "uploads": ("ListBucketMultipartUploads", None, None),
    "versions": ("ListBucketVersions", None, None),
    "notification": ("GetBucketNotification", "PutBucketNotification", None),
    "publicAccessBlock": ("GetBucketPublicAccessBlock", "PutBucketPublicAccessBlock",
                          "PutBucketPublicAccessBlock"),
    "ownershipControls": ("GetBucketOwnershipControls", "PutBucketOwnershipControls",
                          "PutBucketOwnershipControls"),
}
_OBJECT_SUBRESOURCES = {
    "tagging": ("GetObjectTagging", "PutObjectTagging", "DeleteObjectTagging"),
    "acl": ("GetObjectAcl", "PutObjectAcl", None),
    "retention": ("GetObjectRetention", "PutObjectRetention", None),
    "legal-hold": ("GetObjectLegalHold", "PutObjectLegalHold", None),
}


def s3_checks(environ: Mapping[str, Any], body: bytes, region: str) -> list[Check]:
    """Path-style S3: the action(s) and bucket/object ARNs of one request."""
    method = environ.get("REQUEST_METHOD", "GET").upper()
    raw = environ.get("RAW_URI") or environ.get("REQUEST_URI") or ""
    path = unquote(raw.split("?", 1)[0]) if raw.startswith("/") else environ.get("PATH_INFO", "/")
    query = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
    base: dict[str, Any] = {"aws:RequestedRegion": region}
    bucket, _, key = path.lstrip("/").partition("/")
    if not bucket:
        return [Check("s3:ListAllMyBuckets", "*", base)]
    bucket_arn = f"arn:aws:s3:::{bucket}"
    index = {"GET": 0, "HEAD": 0, "PUT": 1, "DELETE": 2}.get(method)
    if not key:
        for sub, actions in _BUCKET_SUBRESOURCES.items():
            if sub in query and index is not None and actions[index]:
                return [Check("s3:" + str(actions[index]), bucket_arn, base)]
        if method == "POST" and "delete" in query:
            keys = [_xml_unescape(k) for k in
                    re.findall(r"<Key>(.*?)</Key>", body.decode(errors="replace"), re.S)]
            return [Check("s3:DeleteObject", f"{bucket_arn}/{k}", base) for k in keys] or \
                [Check("s3:DeleteObject", f"{bucket_arn}/*", base)]
        if method in ("GET", "HEAD"):
            context = dict(base)
            for name in ("prefix", "delimiter", "max-keys"):
                if name in query:
                    context[f"s3:{name}"] = query[name][0]
            return [Check("s3:ListBucket", bucket_arn, context)]
        action = {"PUT": "CreateBucket", "DELETE": "DeleteBucket"}.get(method, "ListBucket")
        return [Check("s3:" + action, bucket_arn, base)]
    object_arn = f"{bucket_arn}/{key}"
    for sub, actions in _OBJECT_SUBRESOURCES.items():
        if sub in query and index is not None and actions[index]:
            return [Check("s3:" + str(actions[index]), object_arn, base)]
    if method in ("GET", "HEAD"):
        if "uploadId" in query:
            return [Check("s3:ListMultipartUploadParts", object_arn, base)]
        return [Check("s3:GetObject", object_arn, base)]
    if method == "DELETE":
        if "uploadId" in query:
            return [Check("s3:AbortMultipartUpload", object_arn, base)]
        return [Check("s3:DeleteObject", object_arn, base)]
    checks = [Check("s3:PutObject", object_arn, base)]
    source = environ.get("HTTP_X_AMZ_COPY_SOURCE")
    if method == "PUT" and source:
        source_path = unquote(source.split("?", 1)[0]).lstrip("/")
        checks.append(Check("s3:GetObject", f"arn:aws:s3:::{source_path}", base))
    return checks


def _xml_unescape(text: str) -> str:
    return (text.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", '"')
            .replace("&apos;", "'").replace("&amp;", "&"))


# --- IAM and others ----------------------------------------------------------------------------

def iam_checks(params: Params, account: str) -> list[Check]:
    """IAM's query actions: the user/role/group/profile/policy named in the request."""
    action = _first(params, "Action") or ""
    arn = "*"
    for param, kind in (("UserName", "user"), ("RoleName", "role"), ("GroupName", "group"),
                        ("InstanceProfileName", "instance-profile")):
        value = _first(params, param)
        if value:
            arn = f"arn:aws:iam::{account}:{kind}/{value}"
            break
    else:
        policy = _first(params, "PolicyArn")
        if policy:
            arn = policy
    return [Check("iam:" + action, arn, {})]


def generic_checks(service: str, action: str) -> list[Check]:
    return [Check(f"{service}:{action}", "*", {})]

"""The local cloud's IAM policy evaluator (pure): AWS's order (explicit Deny, then Allow, else
implicit deny), wildcards in actions and ARNs, NotAction/NotResource, and the condition
operators with present, absent and multivalued keys, as AWS documents them."""

from __future__ import annotations

import json

import pytest

from sclust.localcloud.iam_eval import Check, PolicyError, evaluate, first_refused, parse_policy

INSTANCE = "arn:aws:ec2:us-east-1:123456789012:instance/i-0123456789abcdef0"
OTHER = "arn:aws:ec2:us-east-1:123456789012:instance/i-0fedcba9876543210"


def policy(*statements: dict) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def allow(action, resource="*", condition=None, **extra) -> dict:
    statement = {"Effect": "Allow", "Action": action, "Resource": resource, **extra}
    if condition:
        statement["Condition"] = condition
    return statement


def deny(action, resource="*", condition=None) -> dict:
    statement = {"Effect": "Deny", "Action": action, "Resource": resource}
    if condition:
        statement["Condition"] = condition
    return statement


def test_nothing_allowed_without_a_policy():
    assert evaluate([], Check("ec2:DescribeInstances", "*")) == "ImplicitDeny"


def test_explicit_deny_beats_allow_in_any_policy():
    policies = [policy(allow("ec2:*")), policy(deny("ec2:TerminateInstances", INSTANCE))]
    assert evaluate(policies, Check("ec2:TerminateInstances", INSTANCE)) == "ExplicitDeny"
    assert evaluate(policies, Check("ec2:TerminateInstances", OTHER)) == "Allow"
    assert evaluate(policies, Check("ec2:StopInstances", INSTANCE)) == "Allow"


@pytest.mark.parametrize("pattern, action, allowed", [
    ("ec2:StopInstances", "ec2:StopInstances", True),
    ("ec2:stopinstances", "ec2:StopInstances", True),  # actions ignore case
    ("ec2:Describe*", "ec2:DescribeInstances", True),
    ("ec2:Describe*", "ec2:StopInstances", False),
    ("ec2:*Instances", "ec2:StartInstances", True),
    ("ec2:?topInstances", "ec2:StopInstances", True),
    ("*", "s3:GetObject", True),
    ("s3:*", "ec2:DescribeInstances", False),
    ("ec2:Stop", "ec2:StopInstances", False),  # no prefix matching
])
def test_action_wildcards(pattern, action, allowed):
    decision = evaluate([policy(allow(pattern))], Check(action, "*"))
    assert decision == ("Allow" if allowed else "ImplicitDeny")


def test_action_lists_and_not_action():
    p = policy(allow(["ec2:StartInstances", "ec2:StopInstances"]))
    assert evaluate([p], Check("ec2:StopInstances", "*")) == "Allow"
    assert evaluate([p], Check("ec2:TerminateInstances", "*")) == "ImplicitDeny"
    everything_but = policy({"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"})
    assert evaluate([everything_but], Check("ec2:RunInstances", "*")) == "Allow"
    assert evaluate([everything_but], Check("iam:CreateUser", "*")) == "ImplicitDeny"


def test_resource_arns_and_wildcards():
    p = policy(allow("ec2:StopInstances", "arn:aws:ec2:us-east-1:123456789012:instance/*"))
    assert evaluate([p], Check("ec2:StopInstances", INSTANCE)) == "Allow"
    volume = "arn:aws:ec2:us-east-1:123456789012:volume/vol-1"
    assert evaluate([p], Check("ec2:StopInstances", volume)) == "ImplicitDeny"
    other_region = INSTANCE.replace("us-east-1", "eu-west-1")
    assert evaluate([p], Check("ec2:StopInstances", other_region)) == "ImplicitDeny"
    # Resource ARNs are case-sensitive.
    exact = policy(allow("ec2:StopInstances", INSTANCE))
    assert evaluate([exact], Check("ec2:StopInstances", INSTANCE)) == "Allow"
    assert evaluate([exact], Check("ec2:StopInstances", INSTANCE.upper())) == "ImplicitDeny"


def test_actions_without_resource_level_permissions_need_star():
    scoped = policy(allow("ec2:DescribeInstances",
                          "arn:aws:ec2:us-east-1:123456789012:instance/*"))
    assert evaluate([scoped], Check("ec2:DescribeInstances", "*")) == "ImplicitDeny"
    assert evaluate([policy(allow("ec2:DescribeInstances"))],
                    Check("ec2:DescribeInstances", "*")) == "Allow"


def test_s3_bucket_and_object_arns_differ():
    p = policy(allow("s3:ListBucket", "arn:aws:s3:::data"),
               allow("s3:GetObject", "arn:aws:s3:::data/*"))
    assert evaluate([p], Check("s3:ListBucket", "arn:aws:s3:::data")) == "Allow"
    assert evaluate([p], Check("s3:ListBucket", "arn:aws:s3:::data-other")) == "ImplicitDeny"
    assert evaluate([p], Check("s3:GetObject", "arn:aws:s3:::data/a/b.txt")) == "Allow"
    assert evaluate([p], Check("s3:GetObject", "arn:aws:s3:::data")) == "ImplicitDeny"
    assert evaluate([p], Check("s3:GetObject", "arn:aws:s3:::other/a")) == "ImplicitDeny"


def test_not_resource():
    p = policy({"Effect": "Allow", "Action": "s3:*", "NotResource": "arn:aws:s3:::secret*"})
    assert evaluate([p], Check("s3:GetObject", "arn:aws:s3:::data/x")) == "Allow"
    assert evaluate([p], Check("s3:GetObject", "arn:aws:s3:::secret/x")) == "ImplicitDeny"


TAGGED = {"aws:ResourceTag/course": "bio101", "ec2:ResourceTag/course": "bio101"}


@pytest.mark.parametrize("condition, context, allowed", [
    ({"StringEquals": {"aws:ResourceTag/course": "bio101"}}, TAGGED, True),
    ({"StringEquals": {"ec2:ResourceTag/course": "bio101"}}, TAGGED, True),
    ({"StringEquals": {"aws:ResourceTag/course": "bio101"}},
     {"aws:ResourceTag/course": "chem"}, False),
    ({"StringEquals": {"aws:ResourceTag/course": "bio101"}}, {}, False),  # untagged
    # Several values: any of them; keys are case-insensitive, values are not.
    ({"StringEquals": {"AWS:RESOURCETAG/COURSE": ["chem", "bio101"]}}, TAGGED, True),
    ({"StringEquals": {"aws:ResourceTag/course": "BIO101"}}, TAGGED, False),
    ({"StringEqualsIgnoreCase": {"aws:ResourceTag/course": "BIO101"}}, TAGGED, True),
    ({"StringLike": {"aws:ResourceTag/course": "bio*"}}, TAGGED, True),
    ({"StringLike": {"aws:ResourceTag/course": "chem*"}}, TAGGED, False),
    ({"StringNotEquals": {"aws:ResourceTag/course": "chem"}}, TAGGED, True),
    ({"StringNotEquals": {"aws:ResourceTag/course": ["chem", "bio101"]}}, TAGGED, False),
    # A negated operator on an absent key is true (AWS's documented rule).
    ({"StringNotEquals": {"aws:ResourceTag/course": "chem"}}, {}, True),
    ({"StringNotLike": {"aws:ResourceTag/course": "bio*"}}, TAGGED, False),
    # Several keys and operators: all must hold.
    ({"StringEquals": {"aws:ResourceTag/course": "bio101", "ec2:Region": "us-east-1"}},
     {**TAGGED, "ec2:Region": "us-east-1"}, True),
    ({"StringEquals": {"aws:ResourceTag/course": "bio101", "ec2:Region": "us-east-1"}},
     {**TAGGED, "ec2:Region": "eu-west-1"}, False),
    ({"StringEquals": {"aws:ResourceTag/course": "bio101"},
      "StringLike": {"ec2:Region": "eu-*"}}, {**TAGGED, "ec2:Region": "us-east-1"}, False),
    # IfExists: an absent key passes, a present one is compared.
    ({"StringEqualsIfExists": {"aws:RequestTag/course": "bio101"}}, {}, True),
    ({"StringEqualsIfExists": {"aws:RequestTag/course": "bio101"}},
     {"aws:RequestTag/course": "chem"}, False),
    # Null: true = the key is absent, false = present.
    ({"Null": {"aws:RequestTag/course": "true"}}, {}, True),
    ({"Null": {"aws:RequestTag/course": "true"}}, {"aws:RequestTag/course": "x"}, False),
    ({"Null": {"aws:RequestTag/course": "false"}}, {"aws:RequestTag/course": "x"}, True),
    ({"Null": {"aws:RequestTag/course": "false"}}, {}, False),
    ({"Bool": {"aws:SecureTransport": "true"}}, {"aws:SecureTransport": "true"}, True),
    ({"Bool": {"aws:SecureTransport": True}}, {"aws:SecureTransport": "false"}, False),
    ({"Bool": {"aws:SecureTransport": "true"}}, {}, False),
    ({"NumericLessThanEquals": {"s3:max-keys": "10"}}, {"s3:max-keys": "5"}, True),
    ({"NumericLessThanEquals": {"s3:max-keys": "10"}}, {"s3:max-keys": "50"}, False),
    ({"ArnLike": {"aws:SourceArn": "arn:aws:ec2:*:*:instance/*"}},
     {"aws:SourceArn": INSTANCE}, True),
])
def test_conditions(condition, context, allowed):
    p = policy(allow("ec2:StopInstances", condition=condition))
    decision = evaluate([p], Check("ec2:StopInstances", INSTANCE, context))
    assert decision == ("Allow" if allowed else "ImplicitDeny"), (condition, context)


@pytest.mark.parametrize("condition, keys, allowed", [
    # ForAllValues: every key of the request is in the list (none given: vacuously true).
    ({"ForAllValues:StringEquals": {"aws:TagKeys": ["course", "Name"]}}, ["course"], True),
    ({"ForAllValues:StringEquals": {"aws:TagKeys": ["course", "Name"]}},
     ["course", "owner"], False),
    ({"ForAllValues:StringEquals": {"aws:TagKeys": ["course"]}}, None, True),
    ({"ForAllValues:StringLike": {"aws:TagKeys": ["sclust:*"]}}, ["sclust:a", "sclust:b"], True),
    # ForAnyValue: at least one key in the list (none given: false).
    ({"ForAnyValue:StringEquals": {"aws:TagKeys": ["course"]}}, ["owner", "course"], True),
    ({"ForAnyValue:StringEquals": {"aws:TagKeys": ["course"]}}, ["owner"], False),
    ({"ForAnyValue:StringEquals": {"aws:TagKeys": ["course"]}}, None, False),
    # Negated with a set qualifier: no key is 'course' / some key is not.
    ({"ForAllValues:StringNotEquals": {"aws:TagKeys": ["course"]}}, ["owner", "x"], True),
    ({"ForAllValues:StringNotEquals": {"aws:TagKeys": ["course"]}}, ["owner", "course"], False),
    ({"ForAnyValue:StringNotEquals": {"aws:TagKeys": ["course"]}}, ["course"], False),
    ({"ForAnyValue:StringNotEquals": {"aws:TagKeys": ["course"]}}, ["course", "x"], True),
])
def test_multivalued_keys(condition, keys, allowed):
    context = {"aws:TagKeys": keys} if keys is not None else {}
    p = policy(allow("ec2:CreateTags", condition=condition))
    decision = evaluate([p], Check("ec2:CreateTags", INSTANCE, context))
    assert decision == ("Allow" if allowed else "ImplicitDeny"), (condition, keys)


def test_a_conditional_deny_applies_only_when_its_condition_holds():
    policies = [policy(allow("ec2:*"),
                       deny("ec2:TerminateInstances",
                            condition={"StringEquals": {"aws:ResourceTag/protected": "yes"}}))]
    protected = Check("ec2:TerminateInstances", INSTANCE, {"aws:ResourceTag/protected": "yes"})
    plain = Check("ec2:TerminateInstances", OTHER, {})
    assert evaluate(policies, protected) == "ExplicitDeny"
    assert evaluate(policies, plain) == "Allow"


def test_every_resource_of_a_request_must_be_allowed():
    p = [policy(allow("ec2:StopInstances",
                      condition={"StringEquals": {"aws:ResourceTag/course": "bio101"}}))]
    both = [Check("ec2:StopInstances", INSTANCE, TAGGED),
            Check("ec2:StopInstances", OTHER, {"aws:ResourceTag/course": "chem"})]
    refused = first_refused(p, both)
    assert refused is not None and refused[0].resource == OTHER
    assert refused[1] == "ImplicitDeny"
    assert first_refused(p, both[:1]) is None


def test_documents_as_iam_returns_them_and_single_statements():
    text = policy(allow("s3:GetObject"))
    from urllib.parse import quote

    assert evaluate([quote(text)], Check("s3:GetObject", "arn:aws:s3:::b/k")) == "Allow"
    single = json.dumps({"Statement": allow("s3:GetObject")})
    assert evaluate([single], Check("s3:GetObject", "arn:aws:s3:::b/k")) == "Allow"
    assert evaluate([{"Statement": [allow("s3:*")]}],
                    Check("s3:PutObject", "arn:aws:s3:::b/k")) == "Allow"


@pytest.mark.parametrize("document", [
    "not json", "[]", json.dumps({"Statement": "x"}),
    policy(allow("ec2:*", condition={"NoSuchOperator": {"a": "b"}})),
    policy(allow("ec2:*", condition={"Sometimes:StringEquals": {"a": "b"}})),
])
def test_unreadable_policies_are_errors_not_allows(document):
    with pytest.raises(PolicyError):
        evaluate([document], Check("ec2:StopInstances", INSTANCE))


def test_statement_without_action_or_resource_matches_nothing():
    assert evaluate([policy({"Effect": "Allow", "Resource": "*"})],
                    Check("ec2:StopInstances", "*")) == "ImplicitDeny"
    assert evaluate([policy({"Effect": "Allow", "Action": "*"})],
                    Check("ec2:StopInstances", "*")) == "ImplicitDeny"
    assert parse_policy({"Statement": []}) == []


def test_policy_variables_in_resources_and_conditions():
    home = {"Version": "2012-10-17", "Statement": [
        allow("s3:PutObject", "arn:aws:s3:::homes/${aws:username}/*"),
        allow("ec2:StopInstances", condition={
            "StringEquals": {"aws:ResourceTag/owner": "${aws:username}"}})]}
    ana = {"aws:username": "ana"}
    assert evaluate([home], Check("s3:PutObject", "arn:aws:s3:::homes/ana/x", ana)) == "Allow"
    assert evaluate([home], Check("s3:PutObject", "arn:aws:s3:::homes/bob/x",
                                  ana)) == "ImplicitDeny"
    # No value for the variable: nothing matches (not even a literal "${aws:username}").
    assert evaluate([home], Check("s3:PutObject", "arn:aws:s3:::homes/${aws:username}/x",
                                  {})) == "ImplicitDeny"
    assert evaluate([home], Check("ec2:StopInstances", INSTANCE,
                                  {**ana, "aws:ResourceTag/owner": "ana"})) == "Allow"
    assert evaluate([home], Check("ec2:StopInstances", INSTANCE,
                                  {**ana, "aws:ResourceTag/owner": "bob"})) == "ImplicitDeny"
    # A default, and the escapes ${*} ${?} ${$}.
    default = {"Version": "2012-10-17", "Statement": [
        allow("s3:GetObject", "arn:aws:s3:::b/${aws:username, 'guest'}/${*}")]}
    assert evaluate([default], Check("s3:GetObject", "arn:aws:s3:::b/guest/*")) == "Allow"
    assert evaluate([default], Check("s3:GetObject", "arn:aws:s3:::b/guest/x")) == "ImplicitDeny"
    # The 2008 language has no variables: the text is literal.
    old = {"Version": "2008-10-17", "Statement": [
        allow("s3:PutObject", "arn:aws:s3:::homes/${aws:username}/*")]}
    assert evaluate([old], Check("s3:PutObject", "arn:aws:s3:::homes/ana/x", ana)) == \
        "ImplicitDeny"


def test_a_variable_s_value_is_literal_text_not_a_wildcard():
    p = {"Version": "2012-10-17", "Statement": [
        allow("s3:GetObject", "arn:aws:s3:::b/${aws:username}/x",
              condition={"StringEquals": {"aws:ResourceTag/owner": "${aws:username}"}})]}
    star = {"aws:username": "a*", "aws:ResourceTag/owner": "a*"}
    assert evaluate([p], Check("s3:GetObject", "arn:aws:s3:::b/a*/x", star)) == "Allow"
    assert evaluate([p], Check("s3:GetObject", "arn:aws:s3:::b/abc/x", star)) == "ImplicitDeny"

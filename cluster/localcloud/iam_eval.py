"""IAM policy evaluation as AWS does it for one identity's own policies (no resource policies,
boundaries or SCPs): an explicit Deny wins, then an Allow, else the request is implicitly
denied. Actions, NotAction, Resource, NotResource with `*`/`?` wildcards, and the condition
operators sclust's and its users' policies use. Pure: policies and the request context in,
a decision out (the endpoint builds the context from moto's state, iam_requests.py)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Literal
from urllib.parse import unquote

Decision = Literal["Allow", "ExplicitDeny", "ImplicitDeny"]
ContextValue = str | Sequence[str]


class PolicyError(ValueError):
    """A policy document that cannot be read."""


@dataclass(frozen=True)
class Check:
    """One action on one resource (an ARN, or `*` for actions without resource-level
    permissions), with the condition keys of that request and resource."""

    action: str  # service:Action
    resource: str
    context: Mapping[str, ContextValue] = field(default_factory=dict)


def parse_policy(document: str | Mapping[str, Any]) -> list[dict[str, Any]]:
    """The statements of a policy document (JSON text, URL-encoded JSON as IAM returns it,
    or already parsed)."""
    return _parse(document)[1]


def _parse(document: str | Mapping[str, Any]) -> tuple[str, list[dict[str, Any]]]:
    """(Version, statements) of a policy document."""
    if isinstance(document, str):
        text = document.strip()
        if text.startswith("%"):
            text = unquote(text)
        try:
            data = json.loads(text)
        except ValueError as error:
            raise PolicyError(f"policy is not JSON: {error}") from None
    else:
        data = dict(document)
    if not isinstance(data, dict):
        raise PolicyError("a policy is a JSON object")
    statements = data.get("Statement", [])
    if isinstance(statements, dict):
        statements = [statements]
    if not isinstance(statements, list) or not all(isinstance(s, dict) for s in statements):
        raise PolicyError("Statement must be an object or a list of objects")
    return str(data.get("Version", "")), statements


def evaluate(policies: Iterable[str | Mapping[str, Any]], check: Check) -> Decision:
    """AWS's decision for `check` under these policies (all of one identity)."""
    allowed = False
    context = {k.lower(): _as_list(v) for k, v in check.context.items()}
    for policy in policies:
        version, statements = _parse(policy)
        # Policy variables (${aws:username}…) only in the 2012-10-17 language, as on AWS.
        variables = version == "2012-10-17"
        for statement in statements:
            if not _statement_matches(statement, check, context, variables):
                continue
            effect = statement.get("Effect")
            if effect == "Deny":
                return "ExplicitDeny"
            if effect == "Allow":
                allowed = True
    return "Allow" if allowed else "ImplicitDeny"


def first_refused(policies: Sequence[str | Mapping[str, Any]],
                  checks: Iterable[Check]) -> tuple[Check, Decision] | None:
    """The first check these policies do not allow (every resource of a request must be
    allowed: StopInstances of two instances needs both), or None when all are."""
    for check in checks:
        decision = evaluate(policies, check)
        if decision != "Allow":
            return check, decision
    return None


# --- statements --------------------------------------------------------------------------------

def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, (str, bool, int, float)):
        return [_text(value)]
    return [_text(v) for v in value]


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


_VARIABLE = re.compile(r"\$\{([^}]*)\}")
_UNMATCHABLE = "\x00no-such-value\x00"


def _substitute(text: str, context: Mapping[str, list[str]]) -> str:
    """${key} → the request's value of key (${key, 'default'} when absent); ${*}, ${?}, ${$}
    are the characters themselves. A variable without a value matches nothing."""
    def value(match: re.Match[str]) -> str:
        inner = match.group(1).strip()
        if inner in ("*", "?", "$"):
            return _MARK.get(inner, inner)
        key, _, default = inner.partition(",")
        found = context.get(key.strip().lower())
        if found and len(found) == 1:
            return "".join(_MARK.get(c, c) for c in found[0])
        default = default.strip()
        if len(default) >= 2 and default[0] == default[-1] == "'":
            return "".join(_MARK.get(c, c) for c in default[1:-1])
        return _UNMATCHABLE
    return _VARIABLE.sub(value, text)


def _statement_matches(statement: Mapping[str, Any], check: Check,
                       context: Mapping[str, list[str]], variables: bool = False) -> bool:
    if "Action" in statement:
        if not any(_wildcard(p, check.action, ignore_case=True)
                   for p in _as_list(statement["Action"])):
            return False
    elif "NotAction" in statement:
        if any(_wildcard(p, check.action, ignore_case=True)
               for p in _as_list(statement["NotAction"])):
            return False
    else:
        return False
    def patterns(name: str) -> list[str]:
        found = _as_list(statement[name])
        return [_substitute(p, context) for p in found] if variables else found

    if "Resource" in statement:
        if not any(_wildcard(p, check.resource) for p in patterns("Resource")):
            return False
    elif "NotResource" in statement:
        if any(_wildcard(p, check.resource) for p in patterns("NotResource")):
            return False
    else:
        return False
    conditions = statement.get("Condition", {})
    if not isinstance(conditions, Mapping):
        raise PolicyError("Condition must be an object")
    for operator, keys in conditions.items():
        if variables and isinstance(keys, Mapping):
            keys = {k: [_substitute(v, context) for v in _as_list(values)]
                    for k, values in keys.items()}
        if not _condition(operator, keys, context):
            return False
    return True


# A `*` or `?` that came from a policy variable (${*}, or a value) is a character, not a
# wildcard: substitution marks it with these private-use characters.
_LITERAL = {"\ue000": "*", "\ue001": "?"}
_MARK = {v: k for k, v in _LITERAL.items()}


def _unmark(text: str) -> str:
    for mark, char in _LITERAL.items():
        text = text.replace(mark, char)
    return text


@lru_cache(maxsize=4096)
def _pattern(pattern: str, ignore_case: bool) -> re.Pattern[str]:
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(_LITERAL.get(c, c))
                    for c in pattern)
    return re.compile(regex, re.DOTALL | (re.IGNORECASE if ignore_case else 0))


def _wildcard(pattern: str, value: str, ignore_case: bool = False) -> bool:
    return _pattern(pattern, ignore_case).fullmatch(value) is not None


# --- conditions --------------------------------------------------------------------------------

def _equals(policy: str, value: str) -> bool:
    return _unmark(policy) == value


def _equals_ignore_case(policy: str, value: str) -> bool:
    return _unmark(policy).lower() == value.lower()


def _like(policy: str, value: str) -> bool:
    return _wildcard(policy, value)


def _bool(policy: str, value: str) -> bool:
    return policy.lower() == value.lower()


def _numeric(compare: str) -> Any:
    def match(policy: str, value: str) -> bool:
        try:
            a, b = float(value), float(policy)
        except ValueError:
            return False
        return {"Equals": a == b, "LessThan": a < b, "LessThanEquals": a <= b,
                "GreaterThan": a > b, "GreaterThanEquals": a >= b}[compare]
    return match


# operator → (value matcher, negated)
_OPERATORS: dict[str, tuple[Any, bool]] = {
    "StringEquals": (_equals, False),
    "StringNotEquals": (_equals, True),
    "StringEqualsIgnoreCase": (_equals_ignore_case, False),
    "StringNotEqualsIgnoreCase": (_equals_ignore_case, True),
    "StringLike": (_like, False),
    "StringNotLike": (_like, True),
    "ArnEquals": (_like, False),
    "ArnLike": (_like, False),
    "ArnNotEquals": (_like, True),
    "ArnNotLike": (_like, True),
    "Bool": (_bool, False),
    "NumericEquals": (_numeric("Equals"), False),
    "NumericNotEquals": (_numeric("Equals"), True),
    "NumericLessThan": (_numeric("LessThan"), False),
    "NumericLessThanEquals": (_numeric("LessThanEquals"), False),
    "NumericGreaterThan": (_numeric("GreaterThan"), False),
    "NumericGreaterThanEquals": (_numeric("GreaterThanEquals"), False),
}


def _condition(operator: str, keys: Any, context: Mapping[str, list[str]]) -> bool:
    if not isinstance(keys, Mapping):
        raise PolicyError(f"condition {operator} must map keys to values")
    qualifier = ""
    if ":" in operator:
        qualifier, _, operator = operator.partition(":")
        if qualifier not in ("ForAllValues", "ForAnyValue"):
            raise PolicyError(f"unknown condition qualifier {qualifier}")
    if_exists = operator.endswith("IfExists")
    operator = operator.removesuffix("IfExists")
    if operator == "Null":
        # "true": the key is absent from the request; "false": it is present.
        return all(any((not context.get(k.lower())) == (v.lower() == "true")
                       for v in _as_list(values)) for k, values in keys.items())
    if operator not in _OPERATORS:
        raise PolicyError(f"unsupported condition operator {operator}")
    match, negated = _OPERATORS[operator]
    for key, values in keys.items():
        wanted = _as_list(values)
        present = context.get(key.lower())
        if not present:
            if qualifier == "ForAllValues" or if_exists:
                continue  # vacuously true
            if qualifier == "ForAnyValue":
                return False
            if negated:  # "the key is not present: the negated condition is true"
                continue
            return False

        def hits(value: str, wanted: list[str] = wanted) -> bool:
            return any(match(w, value) for w in wanted)

        if qualifier == "ForAllValues":
            ok = all((not hits(v)) if negated else hits(v) for v in present)
        elif qualifier == "ForAnyValue":
            ok = any((not hits(v)) if negated else hits(v) for v in present)
        else:
            ok = not any(hits(v) for v in present) if negated else any(hits(v) for v in present)
        if not ok:
            return False
    return True

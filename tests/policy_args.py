"""The policy pack's tests' adapters: a Program's registrations as pulumi-policy's own argument types.

The validators are called directly with those types, built from what the program declares under the mocks: inputs
for resource validations, outputs for stack validations (as the engine passes them), every property behind
pulumi-policy's unknown-checking proxy. The pack itself is never built here (it blocks serving).
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from typing import Any

from pulumi_policy import (
    PolicyCustomTimeouts,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    StackValidationArgs,
)
from pulumi_policy.policy import _NotApplicableError
from pulumi_policy.proxy import unknown_checking_proxy

from policy import wi_policies as wp
from twin.mocks import Program

Row = dict[str, Any]
Mutation = Callable[[list[Row]], None]
DEPLOYMENT = "kubernetes:apps/v1:Deployment"


def _options() -> PolicyResourceOptions:
    return PolicyResourceOptions(False, [], None, [], PolicyCustomTimeouts(0, 0, 0), [])


def rows(program: Program, of: str = "outputs") -> list[Row]:
    """The program's custom resources as plain, mutable rows (component resources carry no properties). The mocks
    record no property dependencies: a test that needs one (a first preview, a wrong property) sets it."""
    return [
        {
            "type": r.type,
            "name": r.name,
            "urn": r.urn,
            "props": copy.deepcopy(getattr(r, of)),
            "dependencies": list(r.dependencies),
            "property_dependencies": {},
        }
        for r in program.resources
        if not r.type.startswith("wi:index:")
    ]


def stack_args(resources: list[Row], config: dict[str, Any] | None = None) -> StackValidationArgs:
    built = {
        row["urn"]: PolicyResource(
            row["type"], unknown_checking_proxy(row["props"]), row["urn"], row["name"], _options(), None, None, [], {}
        )
        for row in resources
    }
    for row in resources:
        resource = built[row["urn"]]
        resource.dependencies = [built[u] for u in row["dependencies"] if u in built]
        resource.property_dependencies = {
            k: [built[u] for u in urns if u in built] for k, urns in row["property_dependencies"].items()
        }
    return StackValidationArgs(list(built.values()), config)


def resource_args(row: Row, config: dict[str, Any] | None = None) -> ResourceValidationArgs:
    props = unknown_checking_proxy(copy.deepcopy(row["props"]))
    return ResourceValidationArgs(row["type"], props, row["urn"], row["name"], _options(), None, config)


#: Violations as reported: each message with the URN it is on (None: the resource a resource policy checked).
Found = list[tuple[str, str | None]]
#: How a stack check's not-applicable reason begins while a preview leaves something undecided.
UNDECIDED = "not decided until the values are known (checked again during `pulumi up`): "


def outcome(validate: Callable, args: ResourceValidationArgs | StackValidationArgs) -> tuple[Found, str | None]:
    """Each violation with the URN it is reported on, and the not-applicable reason (None when the check applied)."""
    found: Found = []
    try:
        validate(args, lambda message, urn=None: found.append((message, urn)))
    except _NotApplicableError as not_applicable:
        return found, not_applicable.reason or ""
    return found, None


def run(validate: Callable, args: ResourceValidationArgs | StackValidationArgs) -> tuple[list[str], str | None]:
    """The violations' messages a validator reports, and its not-applicable reason (None when it applied)."""
    found, reason = outcome(validate, args)
    return [message for message, _ in found], reason


def checked(name: str) -> Callable:
    """What the engine calls for the pack's policy `name`: its validate function as the pack wraps it."""
    (policy,) = [p for p in wp.POLICIES if p.name == name]
    return policy.validate


def violations(validate: Callable, args: ResourceValidationArgs | StackValidationArgs) -> list[str]:
    return run(validate, args)[0]


def reported(validate: Callable, resources: list[Row], message: str, config: dict[str, Any] | None = None) -> bool:
    """Whether `validate` reports a violation matching `message` for the stack `resources`."""
    return any(re.search(message, found) for found in violations(validate, stack_args(resources, config)))


def row(type_: str, name: str, props: dict[str, Any]) -> Row:
    """A resource of a small hand-written stack, with no dependencies until a test sets some (`depends`)."""
    return {
        "type": type_,
        "name": name,
        "urn": f"urn:pulumi:test::wi::{type_}::{name}",
        "props": props,
        "dependencies": [],
        "property_dependencies": {},
    }


def named(resources: list[Row], name: str) -> Row:
    (found,) = [r for r in resources if r["name"] == name]
    return found


def only(resources: list[Row], type_: str, name: str | None = None) -> Row:
    (found,) = [r for r in resources if r["type"] == type_ and (name is None or r["name"] == name)]
    return found


def of_type(resources: list[Row], type_: str) -> list[Row]:
    return [r for r in resources if r["type"] == type_]


def depends(row: Row, prop: str, *sources: Row) -> None:
    """`row`'s property `prop` was computed from `sources` (the engine's property dependencies)."""
    row["property_dependencies"][prop] = [source["urn"] for source in sources]


def each(type_: str, change: Callable[[Row], None]) -> Mutation:
    def mutate(resources: list[Row]) -> None:
        for row in of_type(resources, type_):
            change(row)

    return mutate


def container(row: Row) -> dict[str, Any]:
    """A Deployment row's first container."""
    return row["props"]["spec"]["template"]["spec"]["containers"][0]


def set_env(row: Row, name: str, value: Any) -> None:
    """Sets (or adds) a variable of a Deployment row's first container."""
    env = container(row)["env"]
    for variable in env:
        if variable["name"] == name:
            variable["value"] = value
            return
    env.append({"name": name, "value": value})


def byo_issuer(byo: Program) -> str:
    (cluster,) = [i.result for i in byo.invokes if i.token == "azure-native:containerservice:getManagedCluster"]
    return cluster["oidcIssuerProfile"]["issuerURL"]


def pack_config(stack: str, program: Program) -> dict[str, Any]:
    """Each stack's pack config: prod says production; byo trusts the existing cluster's issuer it reads by invoke."""
    if stack == "prod":
        return {"production": True}
    if stack == "byo":
        return {"trustedIssuers": [byo_issuer(program)]}
    return {}


__all__ = ["wp"]

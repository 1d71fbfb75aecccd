"""Azure role assignments, declared one way everywhere in the project."""

from __future__ import annotations

from collections.abc import Sequence

import pulumi
from pulumi_azure_native import authorization

from aks_workload_identity import facts


def assign_role(
    name: str,
    *,
    role: str,
    principal_id: pulumi.Input[str],
    scope: pulumi.Input[str],
    parent: pulumi.Resource,
    principal_type: pulumi.Input[str] = facts.SERVICE_PRINCIPAL,
    condition: str | None = None,
    aliases: Sequence[str] = (),
) -> authorization.RoleAssignment:
    """Grants the built-in `role` (a GUID from `facts`) to a service principal on `scope` (an ARM id).

    The role definition id is built in the scope's own subscription (the second segment of every ARM id), so no
    invoke is needed. `principalType` is a service principal unless told otherwise, because the principal is usually a
    just-created identity (facts: Role assignments for a just-created identity). The assignment's GUID name comes
    from auto-naming, seeded by its logical `name` (facts: Role-assignment names), so callers name each grant by
    what it grants, never by a list position: a removed grant must not move another grant's name. A `condition`
    (Azure ABAC) narrows the grant; `aliases` are URNs the grant had before it moved.
    """
    subscription_id = pulumi.Output.from_input(scope).apply(lambda s: s.split("/")[2])
    return authorization.RoleAssignment(
        name,
        principal_id=principal_id,
        principal_type=principal_type,
        role_definition_id=subscription_id.apply(lambda sub: facts.role_definition_id(sub, role)),
        scope=scope,
        condition=condition,
        condition_version=facts.ROLE_ASSIGNMENT_CONDITION_VERSION if condition else None,
        opts=pulumi.ResourceOptions(parent=parent, aliases=list(aliases) or None),
    )

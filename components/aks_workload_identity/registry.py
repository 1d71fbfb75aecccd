"""ImageRegistry: the stack's one container registry, which every image build uses and the kubelet pulls from."""

import re
from typing import NotRequired, TypedDict

import pulumi
import pulumi_random as random
from pulumi_azure_native import authorization, containerregistry

from aks_workload_identity import facts
from aks_workload_identity.roles import assign_role


class ImageRegistryArgs(TypedDict):
    resource_group_name: pulumi.Input[str]
    """The resource group the registry goes into."""
    location: pulumi.Input[str]
    """Azure region of the registry."""
    sku: NotRequired[pulumi.Input[str]]
    """Registry SKU: Basic (the default), Standard or Premium."""
    deployer_push: NotRequired[bool]
    """Grant who runs `pulumi up` AcrPush on the registry, for `AppImage`s built with `builder: local` (pass
    `push_access_id` to each). Once per registry: ARM allows one assignment per principal, role and scope. Off by
    default."""
    deployer_object_id: NotRequired[pulumi.Input[str]]
    """With `deployer_push`: the Entra object id of who runs `pulumi up`; default, the signed-in principal's."""
    deployer_principal_type: NotRequired[pulumi.Input[str]]
    """With `deployer_push`: `User` (default) or `ServicePrincipal`."""
    push_access_aliases: NotRequired[list[str]]
    """With `deployer_push`: URNs the AcrPush assignment had before, so that moving it here keeps it rather than
    creating a second one for the same principal, role and scope (which ARM refuses)."""


class ImageRegistry(pulumi.ComponentResource):
    """A private registry: no admin user, no anonymous pull; only identities with AcrPull pull from it."""

    registry_id: pulumi.Output[str]
    """ARM id of the registry: the scope of AcrPull grants, and `AppImage`'s `registry_id`."""
    registry_name: pulumi.Output[str]
    """The registry's name (a random suffix makes it globally unique)."""
    login_server: pulumi.Output[str]
    """The registry's login server, e.g. `app1a2b3c4d5e.azurecr.io`: the host of its image references."""

    def __init__(self, name: str, args: ImageRegistryArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("wi:index:ImageRegistry", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        # Registry names: 5-50 alphanumerics, globally unique (facts: Container registry and image build); a new
        # name whenever the registry must be replaced, so the replacement never collides with the live one.
        prefix = re.sub(r"[^a-z0-9]", "", name.lower())[:30] or "acr"
        suffix = random.RandomString(
            f"{name}-suffix",
            length=10,
            special=False,
            upper=False,
            keepers={"location": args["location"], "resource_group": args["resource_group_name"]},
            opts=child,
        )
        registry = containerregistry.Registry(
            f"{name}-registry",
            registry_name=pulumi.Output.concat(prefix, suffix.result),
            resource_group_name=args["resource_group_name"],
            location=args["location"],
            sku={"name": args.get("sku", "Basic")},
            admin_user_enabled=False,
            anonymous_pull_enabled=False,
            # The new registry, under its new name, before the old one goes (facts: Delete-before-replace).
            opts=pulumi.ResourceOptions(parent=self, delete_before_replace=False),
        )
        self.registry_id = registry.id
        self.registry_name = registry.name
        self.login_server = registry.login_server
        self._push_access: pulumi.Output[str] | None = None
        if args.get("deployer_push", False):
            deployer = args.get("deployer_object_id") or (
                authorization.get_client_config_output(opts=pulumi.InvokeOutputOptions(parent=self)).object_id
            )
            self._push_access = assign_role(
                f"{name}-deployer-push",
                role=facts.ACR_PUSH,
                principal_id=deployer,
                principal_type=args.get("deployer_principal_type", "User"),
                scope=registry.id,
                parent=self,
                aliases=args.get("push_access_aliases", []),
            ).id
        self.register_outputs(
            {"registry_id": self.registry_id, "registry_name": self.registry_name, "login_server": self.login_server}
        )

    @property
    def push_access_id(self) -> pulumi.Output[str] | None:
        """Python only: the ARM id of the deployer's AcrPush assignment (with `deployer_push`), for each local
        `AppImage`'s `push_access_id`; None without it."""
        return self._push_access

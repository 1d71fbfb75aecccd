"""ImageRegistry: the stack's one container registry, which every image build uses and the kubelet pulls from."""

import re
from typing import NotRequired, TypedDict

import pulumi
import pulumi_random as random
from pulumi_azure_native import containerregistry


class ImageRegistryArgs(TypedDict):
    resource_group_name: pulumi.Input[str]
    """The resource group the registry goes into."""
    location: pulumi.Input[str]
    """Azure region of the registry."""
    sku: NotRequired[pulumi.Input[str]]
    """Registry SKU: Basic (the default), Standard or Premium."""


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
        self.register_outputs(
            {"registry_id": self.registry_id, "registry_name": self.registry_name, "login_server": self.login_server}
        )

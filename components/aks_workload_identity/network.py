"""ClusterNetwork: the virtual network the nodes and the private endpoints share, and Key Vault's private DNS zone."""

from typing import TypedDict

import pulumi
from pulumi_azure_native import network, privatedns

from aks_workload_identity import facts

#: The address plan: nodes and private endpoints here; pods and services in the cluster's own overlay ranges
#: (facts: CLUSTER_ADDRESS_SPACES), which must not overlap it.
ADDRESS_SPACE = "10.240.0.0/16"
NODE_SUBNET = "10.240.0.0/22"
ENDPOINT_SUBNET = "10.240.8.0/24"


class ClusterNetworkArgs(TypedDict):
    resource_group_name: pulumi.Input[str]
    """The resource group the network and the zone go into."""
    location: pulumi.Input[str]
    """Azure region of the network."""


class ClusterNetwork(pulumi.ComponentResource):
    """A virtual network with a subnet for nodes and one for private endpoints, and the zone that resolves a vault's
    name to its private endpoint from inside it (facts: Key Vault private endpoints)."""

    vnet_id: pulumi.Output[str]
    """ARM id of the virtual network."""
    node_subnet_id: pulumi.Output[str]
    """ARM id of the subnet for the cluster's nodes (`AksOidcCluster`'s `node_subnet_id`)."""
    endpoint_subnet_id: pulumi.Output[str]
    """ARM id of the subnet for private endpoints (`SecretVault`'s `private_access`)."""
    endpoint_cidr: pulumi.Output[str]
    """The address range private endpoints take their addresses from: what a NetworkPolicy must allow."""
    vault_dns_zone_id: pulumi.Output[str]
    """ARM id of the private DNS zone that resolves a vault's name to its private endpoint."""

    def __init__(self, name: str, args: ClusterNetworkArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("wi:index:ClusterNetwork", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)

        vnet = network.VirtualNetwork(
            f"{name}-vnet",
            resource_group_name=args["resource_group_name"],
            location=args["location"],
            address_space={"address_prefixes": [ADDRESS_SPACE]},
            opts=pulumi.ResourceOptions(parent=self, ignore_changes=["subnets"]),
        )
        # Subnets as their own resources (not inline), so neither side rewrites the other.
        nodes = network.Subnet(
            f"{name}-nodes",
            resource_group_name=args["resource_group_name"],
            virtual_network_name=vnet.name,
            address_prefix=NODE_SUBNET,
            opts=child,
        )
        endpoints = network.Subnet(
            f"{name}-endpoints",
            resource_group_name=args["resource_group_name"],
            virtual_network_name=vnet.name,
            address_prefix=ENDPOINT_SUBNET,
            # Written after the node subnet: Azure refuses concurrent writes to one network's subnets.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[nodes]),
        )
        zone = privatedns.PrivateZone(
            f"{name}-vault-zone",
            resource_group_name=args["resource_group_name"],
            private_zone_name=facts.KEY_VAULT_PRIVATE_DNS_ZONE,
            location="global",
            opts=child,
        )
        privatedns.VirtualNetworkLink(
            f"{name}-vault-zone-link",
            resource_group_name=args["resource_group_name"],
            private_zone_name=zone.name,
            location="global",
            virtual_network={"id": vnet.id},
            registration_enabled=False,
            opts=child,
        )

        self.vnet_id = vnet.id
        self.node_subnet_id = nodes.id
        self.endpoint_subnet_id = endpoints.id
        self.endpoint_cidr = pulumi.Output.from_input(ENDPOINT_SUBNET)
        self.vault_dns_zone_id = zone.id
        self.register_outputs(
            {
                "vnet_id": self.vnet_id,
                "node_subnet_id": self.node_subnet_id,
                "endpoint_subnet_id": self.endpoint_subnet_id,
                "endpoint_cidr": self.endpoint_cidr,
                "vault_dns_zone_id": self.vault_dns_zone_id,
            }
        )

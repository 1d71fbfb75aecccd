"""ClusterNetwork, built alone."""

from __future__ import annotations

import ipaddress

from aks_workload_identity import ClusterNetwork, ClusterNetworkArgs, facts
from aks_workload_identity.network import ADDRESS_SPACE, ENDPOINT_SUBNET, NODE_SUBNET
from twin.mocks import run


def build():
    return run(lambda: ClusterNetwork("net", ClusterNetworkArgs(resource_group_name="rg", location="westeurope")))


def test_subnets_sit_in_the_network_and_clear_of_the_clusters_own_ranges():
    space = ipaddress.ip_network(ADDRESS_SPACE)
    nodes, endpoints = ipaddress.ip_network(NODE_SUBNET), ipaddress.ip_network(ENDPOINT_SUBNET)
    assert nodes.subnet_of(space) and endpoints.subnet_of(space) and not nodes.overlaps(endpoints)
    for key in ("pod_cidr", "service_cidr"):
        assert not space.overlaps(ipaddress.ip_network(facts.CLUSTER_ADDRESS_SPACES[key])), key


def test_network_declares_both_subnets_one_after_the_other_and_the_linked_vault_zone():
    program = build()
    vnet = program.one("azure-native:network:VirtualNetwork")
    assert vnet.inputs["addressSpace"] == {"addressPrefixes": [ADDRESS_SPACE]}
    subnets = {s.inputs["addressPrefix"]: s for s in program.of_type("azure-native:network:Subnet")}
    assert set(subnets) == {NODE_SUBNET, ENDPOINT_SUBNET}
    assert all(s.inputs["virtualNetworkName"] == vnet.outputs["name"] for s in subnets.values())
    assert subnets[NODE_SUBNET].urn in subnets[ENDPOINT_SUBNET].dependencies
    zone = program.one("azure-native:privatedns:PrivateZone")
    assert zone.inputs["privateZoneName"] == "privatelink.vaultcore.azure.net"
    link = program.one("azure-native:privatedns:VirtualNetworkLink").inputs
    assert (link["privateZoneName"], link["virtualNetwork"], link["registrationEnabled"]) == (
        zone.outputs["name"],
        {"id": vnet.outputs["id"]},
        False,
    )


def test_the_network_is_in_the_stacks_region_and_the_private_dns_zone_is_global():
    """ARM places a private DNS zone and its links in `global` only; the network goes where the cluster is."""
    program = run(lambda: ClusterNetwork("net", ClusterNetworkArgs(resource_group_name="rg", location="swedencentral")))
    assert program.one("azure-native:network:VirtualNetwork").inputs["location"] == "swedencentral"
    for type_ in ("azure-native:privatedns:PrivateZone", "azure-native:privatedns:VirtualNetworkLink"):
        assert program.one(type_).inputs["location"] == "global", type_


def test_the_network_leaves_its_subnets_to_their_own_resources():
    """A refresh reads the standalone subnets into the network's state; were `subnets` not ignored, the next update
    would plan to remove them (pulumi-azure-native#611)."""
    assert build().one("azure-native:network:VirtualNetwork").ignore_changes == ["subnets"]

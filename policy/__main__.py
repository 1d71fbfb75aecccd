"""The policy pack's entry point: `pulumi preview --policy-pack policy` runs this file, which blocks serving the
policies. Nothing else constructs the pack (facts: "Checked against sources", CrossGuard)."""

from pulumi_policy import EnforcementLevel, PolicyPack

# The CLI runs this directory as a script with it first on sys.path, so the module is importable by its own name.
from wi_policies import POLICIES

PolicyPack(
    name="azure-workload-identity",
    description="The trust chain of Azure Workload Identity on AKS and its baseline: federated credentials, service "
    "accounts, pods, Key Vault, role assignments, registry, images and cluster.",
    policies=POLICIES,
    # Each policy sets its own level; this is only the default for one that does not.
    enforcement_level=EnforcementLevel.ADVISORY,
)

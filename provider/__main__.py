"""The provider of the `wi` Pulumi package: it serves the components to Pulumi programs in any language.

Pulumi runs this directory (see PulumiPlugin.yaml) with the Python of provider/venv. The schema (each component's
inputs, outputs and their descriptions) is inferred from the components' `...Args` TypedDicts and output
annotations by the SDK's experimental component-provider API, hence the exact SDK pin in requirements.txt.
"""

from pulumi.provider.experimental import component_provider_host

from aks_workload_identity import COMPONENTS, PULUMI_PACKAGE, __version__

if __name__ == "__main__":
    component_provider_host(components=list(COMPONENTS), name=PULUMI_PACKAGE, version=__version__)

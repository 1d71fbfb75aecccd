"""The provider of the `wi` Pulumi package: it serves the components to Pulumi programs in any language.

Pulumi runs this directory (see PulumiPlugin.yaml) with the Python of provider/venv, which holds the project's
locked dependencies (requirements.txt) but not the components: they, and the package's version, come from the
repository this directory sits in (a clone, or the copy of a tag that `pulumi package add` fetches).
The schema (each component's inputs, outputs and their descriptions) is inferred from the components' `...Args`
TypedDicts and output annotations by the SDK's experimental component-provider API, hence the SDK's exact pin.
"""

import sys
import tomllib
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPOSITORY / "components"))

from pulumi.provider.experimental import component_provider_host  # noqa: E402

from aks_workload_identity import COMPONENTS, PULUMI_PACKAGE  # noqa: E402

#: The package's version as pyproject.toml states it: the components are not installed here, so there is no
#: installed metadata to ask.
VERSION = tomllib.loads((REPOSITORY / "pyproject.toml").read_text())["project"]["version"]

if __name__ == "__main__":
    component_provider_host(components=list(COMPONENTS), name=PULUMI_PACKAGE, version=VERSION)

"""A local twin of the cloud side of Azure Workload Identity on AKS, configured from the Pulumi program.

Start at `twin/run.py` (the wiring, and `run_all` for every workload of a stack); each service is one module:
`issuer` (the cluster's OIDC issuer and the kubelet's token), `webhook` (what the AKS webhook injects), `entra` (the
token endpoint), `keyvault` (the data plane), `proxy` (the only way in, on loopback), `faults`, `declared`
(program -> `model.Declarations`), `chain` (a workload's trust chain as checked) and `isolation` (no workload
reaches another's secret or identity). `python -m twin` runs it; `python -m twin.bench` measures it.
"""

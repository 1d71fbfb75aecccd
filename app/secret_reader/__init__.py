"""Reads one Key Vault secret in a loop with the pod's workload identity; `kubectl logs` shows it works.

Replaces the walkthrough's C# console app: the same two log lines, but it survives RBAC and federation
propagation, masks the value unless asked, stops on SIGTERM and tells Kubernetes through /readyz and /livez
whether it works.
"""

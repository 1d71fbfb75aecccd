"""CrossGuard policies for Azure Workload Identity on AKS: the trust chain and its baseline.

One small validate function per rule, named for the promise it guards, in a module per concern: federated
credentials (`federation`), service accounts and pods (`pods`), Key Vault and roles (`vault`), registry and images
(`registry`), the cluster (`cluster`) and secrets as files (`csi`); `common` holds what they share. `POLICIES` wraps
each in a pulumi-policy `Policy` with its level and config schema. Nothing here builds the `PolicyPack` (that starts
a gRPC server and blocks; facts: "Checked against sources", CrossGuard), so tests call the functions directly.

Resource validations see a resource's inputs; stack validations see every resource's outputs at the end of a
preview or update. During a preview, outputs of resources not yet created are unknown: a check that needs one is
reported as not applicable, with the reason, and runs again with the real values during `pulumi up`. Stack checks
compare values whenever both sides are known, and follow property dependencies only while a value is unknown.
"""

from .cluster import (
    cluster_oidc_issuer_enabled,
    cluster_workload_identity_enabled,
    production_cluster_disables_local_accounts,
    production_cluster_uses_entra_rbac,
    production_csi_driver_rotates_secrets,
)
from .common import (
    ACCESS_POLICY,
    ACR_PUSH,
    ADVISORY,
    CLUSTER,
    CONTRIBUTOR,
    EXTERNAL_ACCOUNTS,
    EXTERNAL_ISSUERS,
    FEDERATED_CREDENTIAL,
    IDENTITY,
    KEY_VAULT_CONTRIBUTOR,
    MANDATORY,
    OWNER,
    PRODUCTION,
    RBAC_ADMINISTRATOR,
    READ_ROLES,
    REGISTRY,
    ROLE_ASSIGNMENT,
    SECRET,
    SECRET_PROVIDER_CLASS,
    SERVICE_ACCOUNT,
    STRINGS,
    USER_ACCESS_ADMINISTRATOR,
    VAULT,
    facts,
    resource_policy,
    stack_policy,
)
from .csi import secret_provider_classes_use_the_pods_identity
from .federation import (
    federated_credential_audience_is_token_exchange,
    federated_credential_issuer_is_the_cluster_issuer,
    federated_credential_subject_is_a_declared_service_account,
    federated_credential_subject_is_a_service_account,
)
from .pods import (
    federated_pods_carry_the_use_label,
    labelled_pods_run_as_federated_service_accounts,
    pod_env_has_no_secret_literals,
    pods_read_what_their_identity_may_read,
    service_account_client_id_is_a_federated_identity,
)
from .registry import (
    EXTERNAL_REGISTRIES,
    images_are_pinned,
    images_come_from_pullable_registries,
    registry_admin_user_disabled,
    registry_anonymous_pull_disabled,
    registry_pull_is_granted_to_the_kubelet,
)
from .vault import (
    FORBIDDEN_WORKLOAD_ROLES,
    federated_identity_reads_its_vault,
    key_vault_api_version_is_served,
    key_vault_uses_rbac,
    workload_identity_roles_are_read_only,
    workload_role_assignments_name_service_principals,
)

__all__ = [
    "ACCESS_POLICY",
    "ACR_PUSH",
    "CLUSTER",
    "CONTRIBUTOR",
    "FEDERATED_CREDENTIAL",
    "FORBIDDEN_WORKLOAD_ROLES",
    "IDENTITY",
    "KEY_VAULT_CONTRIBUTOR",
    "OWNER",
    "POLICIES",
    "RBAC_ADMINISTRATOR",
    "REGISTRY",
    "ROLE_ASSIGNMENT",
    "SECRET",
    "SECRET_PROVIDER_CLASS",
    "SERVICE_ACCOUNT",
    "USER_ACCESS_ADMINISTRATOR",
    "VAULT",
]

POLICIES = [
    resource_policy(
        "fic-audience-is-token-exchange",
        MANDATORY,
        f"A federated credential's audience is exactly {facts.TOKEN_AUDIENCE}.",
        federated_credential_audience_is_token_exchange,
    ),
    resource_policy(
        "fic-subject-is-a-service-account",
        MANDATORY,
        "A federated credential's subject is system:serviceaccount:<namespace>:<name>.",
        federated_credential_subject_is_a_service_account,
        **EXTERNAL_ISSUERS,
    ),
    stack_policy(
        "fic-issuer-is-the-cluster-issuer",
        MANDATORY,
        "A federated credential's issuer is, byte for byte, a cluster's OIDC issuer in the stack or a trusted one.",
        federated_credential_issuer_is_the_cluster_issuer,
        trustedIssuers={
            **STRINGS,
            "description": "Issuer URLs of clusters the stack does not declare (e.g. one read with an invoke).",
        },
        **EXTERNAL_ISSUERS,
    ),
    stack_policy(
        "fic-subject-is-a-declared-service-account",
        MANDATORY,
        "A federated credential's subject names a ServiceAccount the stack declares.",
        federated_credential_subject_is_a_declared_service_account,
        **EXTERNAL_ISSUERS,
        **EXTERNAL_ACCOUNTS,
    ),
    stack_policy(
        "service-account-client-id-is-a-federated-identity",
        MANDATORY,
        "A ServiceAccount's client-id annotation names a declared identity federated with that account, in its tenant.",
        service_account_client_id_is_a_federated_identity,
        externalClientIds={**STRINGS, "description": "Client ids of identities another stack declares."},
    ),
    stack_policy(
        "labelled-pods-run-as-federated-service-accounts",
        MANDATORY,
        "A pod template labelled for workload identity runs as a declared ServiceAccount annotated with a client id.",
        labelled_pods_run_as_federated_service_accounts,
        **EXTERNAL_ACCOUNTS,
    ),
    stack_policy(
        "federated-pods-carry-the-use-label",
        MANDATORY,
        f'A pod template running as a federated ServiceAccount carries {facts.WORKLOAD_IDENTITY_USE_LABEL}: "true".',
        federated_pods_carry_the_use_label,
    ),
    resource_policy(
        "key-vault-uses-rbac",
        MANDATORY,
        "Key Vaults use the RBAC permission model, with no access policies.",
        key_vault_uses_rbac,
    ),
    stack_policy(
        "federated-identity-reads-its-vault",
        MANDATORY,
        "A federated identity holds Key Vault Secrets User on a vault of the stack, or on its secrets.",
        federated_identity_reads_its_vault,
        **READ_ROLES,
    ),
    stack_policy(
        "workload-identity-roles-are-read-only",
        MANDATORY,
        "Workload and kubelet identities hold no role that writes secrets or grants access.",
        workload_identity_roles_are_read_only,
        forbiddenRoles={**STRINGS, "description": "More role GUIDs no workload principal may hold."},
    ),
    stack_policy(
        "workload-role-assignments-name-service-principals",
        ADVISORY,
        "Role assignments to workload and kubelet identities set principalType ServicePrincipal.",
        workload_role_assignments_name_service_principals,
    ),
    stack_policy(
        "pods-read-what-their-identity-may-read",
        MANDATORY,
        "A pod's KEY_VAULT_URL and SECRET_NAME name a vault and secret its federated identity may read.",
        pods_read_what_their_identity_may_read,
        **READ_ROLES,
    ),
    stack_policy(
        "key-vault-api-version-is-served",
        ADVISORY,
        f"Key Vault vaults and secrets are managed with API version {facts.KEY_VAULT_MIN_API_VERSION} or later.",
        key_vault_api_version_is_served,
    ),
    resource_policy(
        "registry-admin-user-disabled",
        MANDATORY,
        "Container registries keep their admin user off.",
        registry_admin_user_disabled,
    ),
    resource_policy(
        "registry-anonymous-pull-disabled",
        MANDATORY,
        "Container registries refuse anonymous pulls.",
        registry_anonymous_pull_disabled,
    ),
    stack_policy(
        "registry-pull-is-granted-to-the-kubelet",
        ADVISORY,
        "Each registry grants AcrPull to a cluster's kubelet identity (not its control plane).",
        registry_pull_is_granted_to_the_kubelet,
    ),
    stack_policy(
        "images-come-from-pullable-registries",
        MANDATORY,
        "Images from an Azure Container Registry come from one the cluster's kubelet holds AcrPull on.",
        images_come_from_pullable_registries,
        **EXTERNAL_REGISTRIES,
    ),
    resource_policy(
        "images-are-pinned",
        MANDATORY,
        "Container images are pinned by digest or by a tag other than latest.",
        images_are_pinned,
    ),
    resource_policy(
        "pod-env-has-no-secret-literals",
        MANDATORY,
        "No container sets a secret as a literal environment value.",
        pod_env_has_no_secret_literals,
        allowedNames={**STRINGS, "description": "Variable names that look secret but are not."},
    ),
    resource_policy(
        "cluster-oidc-issuer-enabled",
        MANDATORY,
        "AKS clusters publish an OIDC issuer.",
        cluster_oidc_issuer_enabled,
    ),
    resource_policy(
        "cluster-workload-identity-enabled",
        MANDATORY,
        "AKS clusters run the workload identity webhook.",
        cluster_workload_identity_enabled,
    ),
    resource_policy(
        "production-cluster-disables-local-accounts",
        MANDATORY,
        "Production AKS clusters disable local accounts.",
        production_cluster_disables_local_accounts,
        **PRODUCTION,
    ),
    resource_policy(
        "production-cluster-uses-entra-rbac",
        MANDATORY,
        "Production AKS clusters authorise with Entra ID and Azure RBAC.",
        production_cluster_uses_entra_rbac,
        **PRODUCTION,
    ),
    resource_policy(
        "production-csi-driver-rotates-secrets",
        MANDATORY,
        "Production AKS clusters running the Secrets Store CSI add-on rotate the secrets it mounts.",
        production_csi_driver_rotates_secrets,
        **PRODUCTION,
    ),
    stack_policy(
        "secret-provider-classes-use-the-pods-identity",
        MANDATORY,
        "A SecretProviderClass signs in as the identity federated with its pods and names a vault it may read.",
        secret_provider_classes_use_the_pods_identity,
        **READ_ROLES,
    ),
]

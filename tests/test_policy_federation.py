"""The federated-credential policies: each wrong audience, subject or issuer is reported on the credential that
carries it, with the message that says what to change; each config key (trustedIssuers, externalIssuers,
externalServiceAccounts) changes what passes; and what a preview cannot know yet is not applicable, with the
credential and the reason."""

from __future__ import annotations

import pytest
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE

from tests.policy_args import (
    UNDECIDED,
    Row,
    byo_issuer,
    checked,
    of_type,
    only,
    outcome,
    resource_args,
    rows,
    stack_args,
    wp,
)
from twin.mocks import Program

AUDIENCE = checked("fic-audience-is-token-exchange")
SUBJECT_FORM = checked("fic-subject-is-a-service-account")
ISSUER = checked("fic-issuer-is-the-cluster-issuer")
DECLARED = checked("fic-subject-is-a-declared-service-account")

#: The dev stack's one credential and cluster.
DEV_CREDENTIAL = "reader-wi-demo-sa-federation"
GITHUB = "https://token.actions.githubusercontent.com"


def credential(resources: list[Row], name: str) -> Row:
    return only(resources, wp.FEDERATED_CREDENTIAL, name)


def credentials(resources: list[Row]) -> list[Row]:
    """The stack's credentials in the order the engine passes them (the program's registration order, which the
    mocks do not fix): a check must go on past the first one."""
    found = of_type(resources, wp.FEDERATED_CREDENTIAL)
    assert len(found) > 1
    return found


def cluster_issuer(resources: list[Row]) -> str:
    return only(resources, wp.CLUSTER)["props"]["oidcIssuerProfile"]["issuerURL"]


# --- Audience ---------------------------------------------------------------------------------------------------------


def _audience_message(audiences: object) -> str:
    return (
        f"Federated credential '{DEV_CREDENTIAL}' has audiences {audiences}: set audiences to exactly "
        "['api://AzureADTokenExchange'], the audience of the token the workload identity webhook projects "
        "(Entra ID answers AADSTS70021 otherwise)."
    )


def test_the_token_exchange_audience_passes(dev: Program) -> None:
    assert outcome(AUDIENCE, resource_args(credential(rows(dev, "inputs"), DEV_CREDENTIAL))) == ([], None)


@pytest.mark.parametrize(
    "audiences",
    [["api://AzureADTokenExchangeChina"], ["api://AzureADTokenExchange", "api://other"], []],
    ids=["another cloud's", "a second one", "none"],
)
def test_any_other_audience_is_reported_with_what_to_set(dev: Program, audiences: list[str]) -> None:
    row = credential(rows(dev, "inputs"), DEV_CREDENTIAL)
    row["props"]["audiences"] = audiences
    assert outcome(AUDIENCE, resource_args(row)) == ([(_audience_message(audiences), None)], None)


def test_a_credential_without_audiences_is_reported_as_having_none(dev: Program) -> None:
    row = credential(rows(dev, "inputs"), DEV_CREDENTIAL)
    del row["props"]["audiences"]
    assert outcome(AUDIENCE, resource_args(row)) == ([(_audience_message([]), None)], None)


def test_resources_other_than_credentials_have_no_audience_to_check(dev: Program) -> None:
    cluster = only(rows(dev, "inputs"), wp.CLUSTER)
    assert outcome(AUDIENCE, resource_args(cluster)) == ([], None)
    assert outcome(SUBJECT_FORM, resource_args(cluster)) == ([], None)


# --- Subject in the service-account form ----------------------------------------------------------------------------


def _form_message(subject: str) -> str:
    return (
        f"Federated credential '{DEV_CREDENTIAL}' has subject '{subject}': write it as "
        "'system:serviceaccount:<namespace>:<service account>' with the namespace and name of the pods' service "
        "account (lowercase DNS names, exactly as in the token the cluster issues)."
    )


def test_a_service_account_subject_passes(dev: Program) -> None:
    assert outcome(SUBJECT_FORM, resource_args(credential(rows(dev, "inputs"), DEV_CREDENTIAL))) == ([], None)


@pytest.mark.parametrize(
    "subject",
    [
        "system:serviceaccount:wi-demo/wi-demo-sa",
        "system:serviceaccount:Wi-Demo:wi-demo-sa",
        "repo:acme/app:ref:refs/heads/main",
    ],
    ids=["slash for colon", "uppercase namespace", "a GitHub subject"],
)
def test_a_subject_in_another_form_is_reported_with_the_form(dev: Program, subject: str) -> None:
    row = credential(rows(dev, "inputs"), DEV_CREDENTIAL)
    row["props"]["subject"] = subject
    assert outcome(SUBJECT_FORM, resource_args(row)) == ([(_form_message(subject), None)], None)


def test_a_credential_without_subject_is_reported_with_an_empty_one(dev: Program) -> None:
    row = credential(rows(dev, "inputs"), DEV_CREDENTIAL)
    del row["props"]["subject"]
    assert outcome(SUBJECT_FORM, resource_args(row)) == ([(_form_message(""), None)], None)


def test_an_external_issuers_credential_may_have_any_subject(dev: Program) -> None:
    row = credential(rows(dev, "inputs"), DEV_CREDENTIAL)
    row["props"].update(issuer=GITHUB, subject="repo:acme/app:environment:prod")
    assert outcome(SUBJECT_FORM, resource_args(row, {"externalIssuers": [GITHUB]})) == ([], None)
    reported = ([(_form_message("repo:acme/app:environment:prod"), None)], None)
    assert outcome(SUBJECT_FORM, resource_args(row)) == reported
    assert outcome(SUBJECT_FORM, resource_args(row, {"externalIssuers": []})) == reported
    assert outcome(SUBJECT_FORM, resource_args(row, {"externalIssuers": ["https://gitlab.example.com"]})) == reported


# --- Issuer: the stack's cluster, a trusted one, or an external one ------------------------------------------------


def _slash_message(name: str, issuer: str, source: str, url: str) -> str:
    return (
        f"Federated credential '{name}' trusts issuer '{issuer}', which differs from {source} ('{url}') in its "
        "trailing slash: Entra ID compares byte for byte (AADSTS700211). Pass the cluster's "
        "oidcIssuerProfile.issuerURL output unchanged."
    )


def _case_message(name: str, issuer: str, source: str, url: str) -> str:
    return (
        f"Federated credential '{name}' trusts issuer '{issuer}', which differs from {source} ('{url}') in case: "
        "Entra ID compares byte for byte (AADSTS700211). Pass the issuer URL unchanged."
    )


def _unknown_issuer_message(name: str, issuer: str, known: str) -> str:
    return (
        f"Federated credential '{name}' trusts issuer '{issuer}', which is not the OIDC issuer of any cluster in "
        f"this stack nor in trustedIssuers (known: {known}). Federate with the issuer URL of the cluster the pods run "
        "on; for a cluster this stack does not declare, add its `az aks show --query oidcIssuerProfile.issuerUrl` to "
        "this policy's trustedIssuers."
    )


def _shape_message(name: str, issuer: str) -> str:
    return (
        f"Federated credential '{name}' trusts issuer '{issuer}': an AKS OIDC issuer URL is https and ends with '/'; "
        "use the cluster's oidcIssuerProfile.issuerURL unchanged."
    )


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_credentials_federated_with_the_stacks_cluster_pass(stack: str, request: pytest.FixtureRequest) -> None:
    assert outcome(ISSUER, stack_args(rows(request.getfixturevalue(stack)))) == ([], None)


def test_an_issuer_without_its_trailing_slash_is_reported_on_that_credential(prod: Program) -> None:
    resources = rows(prod)
    url, last = cluster_issuer(resources), credentials(resources)[-1]
    last["props"]["issuer"] = url.rstrip("/")
    message = _slash_message(last["name"], url.rstrip("/"), "cluster 'wi-aks'", url)
    assert outcome(ISSUER, stack_args(resources)) == ([(message, last["urn"])], None)


def test_an_issuer_in_another_case_is_reported_as_a_case_difference(dev: Program) -> None:
    resources = rows(dev)
    url, row = cluster_issuer(resources), credential(resources, DEV_CREDENTIAL)
    row["props"]["issuer"] = url.upper()
    message = _case_message(DEV_CREDENTIAL, url.upper(), "cluster 'wi-aks'", url)
    assert outcome(ISSUER, stack_args(resources)) == ([(message, row["urn"])], None)


def test_another_clusters_issuer_is_reported_with_the_issuers_known(dev: Program) -> None:
    resources = rows(dev)
    url, row = cluster_issuer(resources), credential(resources, DEV_CREDENTIAL)
    row["props"]["issuer"] = "https://example.com/other/"
    message = _unknown_issuer_message(DEV_CREDENTIAL, "https://example.com/other/", f"'{url}'")
    assert outcome(ISSUER, stack_args(resources)) == ([(message, row["urn"])], None)


def test_the_issuers_known_list_trusted_ones_first_then_the_clusters(dev: Program) -> None:
    resources = rows(dev)
    url, row = cluster_issuer(resources), credential(resources, DEV_CREDENTIAL)
    trusted = "https://eastus.oic.prod-aks.azure.com/00000000-aaaa-4bbb-8ccc-7e4a47000000/shared/"
    row["props"]["issuer"] = "https://example.com/other/"
    message = _unknown_issuer_message(DEV_CREDENTIAL, "https://example.com/other/", f"'{trusted}', '{url}'")
    assert outcome(ISSUER, stack_args(resources, {"trustedIssuers": [trusted]})) == ([(message, row["urn"])], None)


def test_a_cluster_without_an_oidc_issuer_leaves_none_known(dev: Program) -> None:
    resources = rows(dev)
    url, row = cluster_issuer(resources), credential(resources, DEV_CREDENTIAL)
    del only(resources, wp.CLUSTER)["props"]["oidcIssuerProfile"]["issuerURL"]
    assert outcome(ISSUER, stack_args(resources)) == (
        [(_unknown_issuer_message(DEV_CREDENTIAL, url, "none"), row["urn"])],
        None,
    )


def test_a_credential_without_issuer_is_reported_with_an_empty_one(dev: Program) -> None:
    resources = rows(dev)
    url, row = cluster_issuer(resources), credential(resources, DEV_CREDENTIAL)
    del row["props"]["issuer"]
    assert outcome(ISSUER, stack_args(resources)) == (
        [(_unknown_issuer_message(DEV_CREDENTIAL, "", f"'{url}'"), row["urn"])],
        None,
    )


def test_an_issuer_one_path_segment_longer_is_another_issuer_not_a_slash_difference(dev: Program) -> None:
    resources = rows(dev)
    url, row = cluster_issuer(resources), credential(resources, DEV_CREDENTIAL)
    row["props"]["issuer"] = f"{url}X/"
    message = _unknown_issuer_message(DEV_CREDENTIAL, f"{url}X/", f"'{url}'")
    assert outcome(ISSUER, stack_args(resources)) == ([(message, row["urn"])], None)


def test_a_trusted_issuer_one_path_segment_longer_is_not_the_credentials_issuer(byo: Program) -> None:
    resources = rows(byo)
    url = byo_issuer(byo)
    found, reason = outcome(ISSUER, stack_args(resources, {"trustedIssuers": [f"{url}X/"]}))
    assert reason is None
    assert found == [
        (_unknown_issuer_message(row["name"], url, f"'{url}X/'"), row["urn"]) for row in credentials(resources)
    ]


def test_existing_clusters_issuer_in_trusted_issuers_passes_byte_for_byte(byo: Program) -> None:
    resources = rows(byo)
    url = byo_issuer(byo)
    assert outcome(ISSUER, stack_args(resources, {"trustedIssuers": [url]})) == ([], None)
    source = f"trustedIssuers entry '{url.rstrip('/')}'"
    found, reason = outcome(ISSUER, stack_args(resources, {"trustedIssuers": [url.rstrip("/")]}))
    assert reason is None
    assert found == [
        (_slash_message(row["name"], url, source, url.rstrip("/")), row["urn"]) for row in credentials(resources)
    ]


def test_without_cluster_or_trusted_issuers_a_well_formed_issuer_is_undecided(byo: Program) -> None:
    reason = "no cluster in the stack and no trustedIssuers configured to compare its issuer to"
    resources = rows(byo)
    assert outcome(ISSUER, stack_args(resources)) == (
        [],
        UNDECIDED + "; ".join(f"{row['name']}: {reason}" for row in credentials(resources)),
    )


@pytest.mark.parametrize(
    "issuer",
    [
        "https://eastus.oic.prod-aks.azure.com/00000000-aaaa-4bbb-8ccc-7e4a47000000/da40625e",
        "http://eastus.oic.prod-aks.azure.com/00000000-aaaa-4bbb-8ccc-7e4a47000000/da40625e/",
    ],
    ids=["no trailing slash", "plain http"],
)
def test_without_cluster_or_trusted_issuers_a_malformed_issuer_is_reported(byo: Program, issuer: str) -> None:
    resources = rows(byo)
    last = credentials(resources)[-1]
    last["props"]["issuer"] = issuer
    assert outcome(ISSUER, stack_args(resources)) == ([(_shape_message(last["name"], issuer), last["urn"])], None)


def test_external_issuers_are_not_compared_with_the_clusters(prod: Program) -> None:
    resources = rows(prod)
    first = credentials(resources)[0]
    first["props"]["issuer"] = GITHUB
    assert outcome(ISSUER, stack_args(resources, {"externalIssuers": [GITHUB]})) == ([], None)
    message = _unknown_issuer_message(first["name"], GITHUB, f"'{cluster_issuer(resources)}'")
    assert outcome(ISSUER, stack_args(resources)) == ([(message, first["urn"])], None)
    other = {"externalIssuers": ["https://gitlab.example.com"]}
    assert outcome(ISSUER, stack_args(resources, other)) == ([(message, first["urn"])], None)


def test_external_issuers_need_no_cluster_or_trusted_issuers(byo: Program) -> None:
    resources = rows(byo)
    for row in of_type(resources, wp.FEDERATED_CREDENTIAL):
        row["props"]["issuer"] = GITHUB
    assert outcome(ISSUER, stack_args(resources, {"externalIssuers": [GITHUB]})) == ([], None)


# --- Issuer during a preview -----------------------------------------------------------------------------------------


def _second_cluster(resources: list[Row], issuer: str) -> Row:
    """A copy of the stack's cluster named `wi-aks-2`, with its own issuer URL."""
    first = only(resources, wp.CLUSTER)
    second = {
        **first,
        "name": "wi-aks-2",
        "urn": first["urn"].replace("::wi-aks", "::wi-aks-2"),
        "props": {**first["props"], "oidcIssuerProfile": {"enabled": True, "issuerURL": issuer}},
    }
    resources.insert(resources.index(first) + 1, second)
    return second


def test_while_the_clusters_issuer_is_unknown_each_credential_is_undecided(prod: Program) -> None:
    resources = rows(prod)
    only(resources, wp.CLUSTER)["props"]["oidcIssuerProfile"]["issuerURL"] = UNKNOWN_STRING_VALUE
    assert outcome(ISSUER, stack_args(resources)) == (
        [],
        UNDECIDED
        + "; ".join(
            f"{row['name']}: the issuer URL of cluster 'wi-aks' is not known yet" for row in credentials(resources)
        ),
    )


def test_while_a_clusters_issuer_is_unknown_a_trusted_issuer_still_passes(dev: Program) -> None:
    resources = rows(dev)
    url = cluster_issuer(resources)
    only(resources, wp.CLUSTER)["props"]["oidcIssuerProfile"]["issuerURL"] = UNKNOWN_STRING_VALUE
    assert outcome(ISSUER, stack_args(resources, {"trustedIssuers": [url]})) == ([], None)


def test_while_one_clusters_issuer_is_unknown_another_known_one_still_decides(dev: Program) -> None:
    resources = rows(dev)
    url = cluster_issuer(resources)
    only(resources, wp.CLUSTER)["props"]["oidcIssuerProfile"]["issuerURL"] = UNKNOWN_STRING_VALUE
    _second_cluster(resources, url)
    assert outcome(ISSUER, stack_args(resources)) == ([], None)
    credential(resources, DEV_CREDENTIAL)["props"]["issuer"] = "https://example.com/other/"
    assert outcome(ISSUER, stack_args(resources)) == (
        [],
        UNDECIDED + f"{DEV_CREDENTIAL}: the issuer URL of cluster 'wi-aks' is not known yet",
    )


def test_the_undecided_reason_names_every_cluster_whose_issuer_is_unknown(dev: Program) -> None:
    resources = rows(dev)
    only(resources, wp.CLUSTER)["props"]["oidcIssuerProfile"]["issuerURL"] = UNKNOWN_STRING_VALUE
    _second_cluster(resources, UNKNOWN_STRING_VALUE)
    assert outcome(ISSUER, stack_args(resources)) == (
        [],
        UNDECIDED + f"{DEV_CREDENTIAL}: the issuer URL of cluster 'wi-aks', 'wi-aks-2' is not known yet",
    )


def test_a_credentials_unknown_issuer_is_undecided_with_its_path(dev: Program) -> None:
    resources = rows(dev)
    credential(resources, DEV_CREDENTIAL)["props"]["issuer"] = UNKNOWN_STRING_VALUE
    assert outcome(ISSUER, stack_args(resources)) == (
        [],
        UNDECIDED + f"{DEV_CREDENTIAL}: string value at .issuer can't be known during preview",
    )


# --- Subject: a service account the stack declares ------------------------------------------------------------------

PROD_ACCOUNTS = (
    "system:serviceaccount:billing:billing, system:serviceaccount:orders:orders-api, "
    "system:serviceaccount:orders:orders-worker, system:serviceaccount:wi-demo:wi-demo-sa"
)


def _undeclared_message(name: str, subject: str, declared: str) -> str:
    return (
        f"Federated credential '{name}' trusts subject '{subject}', which names no ServiceAccount this stack declares "
        f"({declared}): set the subject to 'system:serviceaccount:<namespace>:<name>' of the service account the "
        "pods run as (or list a service account another stack declares in this policy's externalServiceAccounts)."
    )


@pytest.mark.parametrize("stack", ["dev", "prod", "byo"])
def test_credentials_for_declared_service_accounts_pass(stack: str, request: pytest.FixtureRequest) -> None:
    assert outcome(DECLARED, stack_args(rows(request.getfixturevalue(stack)))) == ([], None)


def test_a_subject_naming_no_declared_account_is_reported_on_that_credential(prod: Program) -> None:
    resources = rows(prod)
    last = credentials(resources)[-1]
    last["props"]["subject"] = "system:serviceaccount:orders:orders-admin"
    message = _undeclared_message(last["name"], "system:serviceaccount:orders:orders-admin", PROD_ACCOUNTS)
    assert outcome(DECLARED, stack_args(resources)) == ([(message, last["urn"])], None)


def test_a_credential_without_subject_names_no_declared_account(dev: Program) -> None:
    resources = rows(dev)
    row = credential(resources, DEV_CREDENTIAL)
    del row["props"]["subject"]
    message = _undeclared_message(DEV_CREDENTIAL, "", "system:serviceaccount:wi-demo:wi-demo-sa")
    assert outcome(DECLARED, stack_args(resources)) == ([(message, row["urn"])], None)


def test_a_stack_declaring_no_service_account_lists_none(dev: Program) -> None:
    resources = [r for r in rows(dev) if r["type"] != wp.SERVICE_ACCOUNT]
    row = credential(resources, DEV_CREDENTIAL)
    message = _undeclared_message(DEV_CREDENTIAL, "system:serviceaccount:wi-demo:wi-demo-sa", "none")
    assert outcome(DECLARED, stack_args(resources)) == ([(message, row["urn"])], None)


@pytest.mark.parametrize("entry", ["shared/platform-sa", "system:serviceaccount:shared:platform-sa"])
def test_external_service_accounts_are_declared_elsewhere(dev: Program, entry: str) -> None:
    resources = rows(dev)
    row = credential(resources, DEV_CREDENTIAL)
    row["props"]["subject"] = "system:serviceaccount:shared:platform-sa"
    assert outcome(DECLARED, stack_args(resources, {"externalServiceAccounts": [entry]})) == ([], None)
    message = _undeclared_message(
        DEV_CREDENTIAL, "system:serviceaccount:shared:platform-sa", "system:serviceaccount:wi-demo:wi-demo-sa"
    )
    assert outcome(DECLARED, stack_args(resources)) == ([(message, row["urn"])], None)


def test_external_issuers_credentials_need_no_declared_account(prod: Program) -> None:
    resources = rows(prod)
    first, *_, last = credentials(resources)
    first["props"].update(issuer=GITHUB, subject="repo:acme/app:environment:prod")
    last["props"]["subject"] = "system:serviceaccount:orders:orders-admin"
    last_reported = (
        _undeclared_message(last["name"], "system:serviceaccount:orders:orders-admin", PROD_ACCOUNTS),
        last["urn"],
    )
    assert outcome(DECLARED, stack_args(resources, {"externalIssuers": [GITHUB]})) == ([last_reported], None)
    both = [
        (_undeclared_message(first["name"], "repo:acme/app:environment:prod", PROD_ACCOUNTS), first["urn"]),
        last_reported,
    ]
    assert outcome(DECLARED, stack_args(resources)) == (both, None)
    assert outcome(DECLARED, stack_args(resources, {"externalIssuers": ["https://gitlab.example.com"]})) == (
        both,
        None,
    )


def test_an_unknown_service_account_name_makes_the_check_not_applicable(dev: Program) -> None:
    resources = rows(dev)
    only(resources, wp.SERVICE_ACCOUNT)["props"]["metadata"]["name"] = UNKNOWN_STRING_VALUE
    assert outcome(DECLARED, stack_args(resources)) == (
        [],
        "a service account's name is unknown (string value at .metadata.name can't be known during preview); "
        "checked during `pulumi up`",
    )


def test_a_credentials_unknown_subject_is_undecided_with_its_path(dev: Program) -> None:
    resources = rows(dev)
    credential(resources, DEV_CREDENTIAL)["props"]["subject"] = UNKNOWN_STRING_VALUE
    assert outcome(DECLARED, stack_args(resources)) == (
        [],
        UNDECIDED + f"{DEV_CREDENTIAL}: string value at .subject can't be known during preview",
    )

"""The twin proves secrets as files: its CSI driver and Azure provider sign in with the pod's own service-account
token, read Key Vault, write the files before the app starts, follow a rotation, keep one workload's mount from
another's secret, and fail the mount, naming the link, when a class is broken."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import replace

import pytest

import twin.__main__ as cli
from aks_workload_identity import facts
from twin import csi
from twin.chain import BROKEN, HELD
from twin.csi import FilesDeclarations, MountFailed, files_chain, rotate_secret
from twin.declared import from_program
from twin.isolation import BREAK, IDENTITY, VAULT, prove
from twin.mocks import Program, run_program
from twin.rotation import CHANGED_LINE
from twin.run import READ_LINE, Twin

LEDGER = {
    "name": "ledger",
    "namespace": "ledger",
    "serviceAccounts": ["ledger"],
    "secrets": [{"name": "ledger-key"}],
    "image": {"build": "app", "repository": "secret-reader"},
    "delivery": "files",
    "mountPath": "/etc/ledger",
    "env": {"SECRET_FILE": "/etc/ledger/ledger-key"},
}
READER = {
    "name": "reader",
    "namespace": "wi-demo",
    "serviceAccounts": ["wi-demo-sa"],
    "secrets": [{"name": "Secret"}],
    "image": {"build": "app", "repository": "secret-reader"},
    "env": {"SECRET_NAME": "Secret"},
}


@pytest.fixture(scope="module")
def program() -> Program:
    """The dev stack with two workloads: the reader through the SDK, the ledger as a file, polled every 30 s."""
    return run_program({"workloads": json.dumps([READER, LEDGER]), "secretRotationPollInterval": "30s"})


@pytest.fixture
def twin() -> Iterator[Twin]:
    with Twin() as twin:
        yield twin


def ledger_principal(declared: FilesDeclarations) -> str:
    return next(i.principal_id for i in declared.identities if i.name.startswith("ledger-"))


def with_class(declared: FilesDeclarations, **parameters: str) -> FilesDeclarations:
    """The declarations with the ledger's class parameters changed."""
    (spc,) = declared.secret_provider_classes
    changed = replace(spc, parameters={**spc.parameters, **parameters})
    return replace(declared, secret_provider_classes=(changed,))


def test_the_class_the_volume_and_the_add_on_are_read_from_the_program(program: Program) -> None:
    declared = from_program(program)
    (spc,) = declared.secret_provider_classes
    assert (spc.name, spc.namespace, spc.provider, spc.vault_name) == (
        "ledger-files",
        "ledger",
        "azure",
        next(v.name for v in declared.vaults if v.name.startswith("ledger-")),
    )
    assert [obj["objectName"] for obj in spc.objects()] == ["ledger-key"]
    assert declared.csi_volumes == {
        "ledger": (csi.CsiVolume("secrets-store", facts.SECRETS_STORE_CSI_DRIVER, "ledger-files", "/etc/ledger", True),)
    }
    assert declared.addon == csi.SecretsProviderAddon(enabled=True, rotation=True, poll_interval="30s")
    assert declared.addon is not None and declared.addon.poll_seconds == 30.0


def test_the_file_holds_the_secret_before_the_app_starts_and_follows_a_rotation(twin: Twin, program: Program) -> None:
    declared = from_program(program)
    twin.configure(declared)
    with twin.launch(0.02, workload="ledger") as app:
        assert app.mount is not None
        (secret,) = [s for s in declared.secrets if s.name == "ledger-key"]
        assert (app.mount.directory / "ledger-key").read_text() == secret.value
        assert app.env["SECRET_FILE"] == str(app.mount.directory / "ledger-key")
        assert app.wait_for(READ_LINE, 2), app.log
        # The provider signed in as the ledger's identity with the pod's own subject, and read its vault.
        ledger = next(i for i in declared.identities if i.name.startswith("ledger-"))
        assert {(g.subject, g.identity) for g in twin.entra.grants} == {("system:serviceaccount:ledger:ledger", ledger)}
        assert {(r.client_id, r.secret.name) for r in twin.keyvault.reads} == {(ledger.client_id, "ledger-key")}
        assert [link.status for link in files_chain(twin, app.workload, app.mount.spc, mounted=True)] == [HELD] * 7

        changed = rotate_secret(twin, secret.vault_name, "ledger-key", "rotated-value")
        twin.secrets_store.republish()  # the driver's next pass, run here instead of waiting for the interval
        assert (app.mount.directory / "ledger-key").read_text() == "rotated-value"
        assert [(r[1], r[2], r[3]) for r in app.mount.rotations] == [("ledger-key", secret.version, changed.version)]
        assert app.wait_for(CHANGED_LINE), app.log
        assert "rotated-value" not in app.log and secret.value not in app.log


def test_a_failed_rotation_keeps_the_old_file(twin: Twin, program: Program) -> None:
    declared = from_program(program)
    twin.configure(declared)
    pod_dir = twin.workdir / "pod"
    mount = twin.secrets_store.mount(declared.workload("ledger"), pod_dir)
    assert mount is not None
    before = (mount.directory / "ledger-key").read_text()
    twin.keyvault.declarations = replace(twin.keyvault.declarations, role_assignments=())
    twin.secrets_store.republish()
    assert (mount.directory / "ledger-key").read_text() == before
    (error,) = mount.rotation_errors
    assert "RESPONSE 403: Forbidden/ForbiddenByRbac" in error


@pytest.mark.parametrize(
    ("broken", "error", "link"),
    [
        (
            lambda d: with_class(d, clientID=next(i for i in d.identities if i.name.startswith("reader-")).client_id),
            r"ClientAssertionCredential authentication failed: .* AADSTS70021: No matching federated identity record",
            "files: client id",
        ),
        (
            lambda d: with_class(d, keyvaultName="nosuchvault"),
            "lookup nosuchvault.vault.azure.net: no such host",
            "files: vault",
        ),
        (
            lambda d: replace(
                d, role_assignments=tuple(a for a in d.role_assignments if a.principal_id != ledger_principal(d))
            ),
            "RESPONSE 403: Forbidden/ForbiddenByRbac",
            "files: role assignment",
        ),
        (lambda d: with_class(d, tenantID=""), "tenantId is not provided", "files: tenant"),
    ],
    ids=["wrong client id", "wrong vault", "missing grant", "no tenant"],
)
def test_a_broken_class_fails_the_mount_and_its_link(twin: Twin, program: Program, broken, error, link) -> None:
    declared = broken(from_program(program))
    twin.configure(declared)
    ledger = declared.workload("ledger")
    with pytest.raises(MountFailed) as failed:
        twin.launch(0.02, workload="ledger")
    assert str(failed.value).startswith(
        f'Warning FailedMount: MountVolume.SetUp failed for volume "secrets-store" : rpc error: code = Unknown '
        f"desc = failed to mount secrets store objects for pod ledger/{ledger.deployment}, err: "
    )
    assert re.search(error, failed.value.error), failed.value.error
    (spc,) = declared.secret_provider_classes
    links = {x.name: x.status for x in files_chain(twin, ledger, spc, mounted=False)}
    assert links[link] == BROKEN, links
    assert list(twin.workdir.glob("pod-ledger-*/csi")) == []  # nothing was written


def test_without_the_add_on_the_driver_is_not_registered(twin: Twin, program: Program) -> None:
    declared = from_program(program)
    twin.configure(replace(declared, addon=csi.SecretsProviderAddon(False, False, "2m")))
    with pytest.raises(MountFailed, match="driver name secrets-store.csi.k8s.io not found in the list of registered"):
        twin.launch(0.02, workload="ledger")


def test_a_files_workload_is_isolated_and_a_grant_too_many_is_a_break(twin: Twin, program: Program) -> None:
    declared = from_program(program)
    twin.configure(declared)
    proof = prove(twin)
    assert proof.holds, proof.attempts
    assert proof.attempt("ledger", "reader", VAULT).outcome == "mount failed: 403 Forbidden/ForbiddenByRbac"
    assert proof.attempt("ledger", "reader", IDENTITY).outcome == "mount failed: AADSTS70021"
    # The SDK pod asks for the ledger's secret: its class's first object in its vault.
    assert proof.attempt("reader", "ledger", VAULT).outcome == "403 Forbidden/ForbiddenByRbac"

    ledger = next(i for i in declared.identities if i.name.startswith("ledger-"))
    reader_vault = next(v for v in declared.vaults if v.name.startswith("reader-"))
    stolen = replace(declared.role_assignments[0], name="ledger-reads-too", principal_id=ledger.principal_id)
    stolen = replace(stolen, scope=reader_vault.id, role_definition_id=f"x/{facts.KEY_VAULT_SECRETS_USER}")
    twin.configure(replace(declared, role_assignments=(*declared.role_assignments, stolen)))
    broken = prove(twin)
    assert [(a.reader, a.owner, a.kind) for a in broken.breaks] == [("ledger", "reader", VAULT)]
    assert broken.breaks[0].outcome == "mounted: ['Secret'] in A's pod"
    assert broken.breaks[0].verdict == BREAK


def test_python_m_twin_runs_both_kinds_proves_rotation_and_fails_on_a_broken_class(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, program: Program
) -> None:
    monkeypatch.setattr(cli, "run_program", lambda stack: program)
    argv = ["--stack", "dev", "--reads", "1", "--poll-interval", "0.05", "--rotation-poll-interval", "0.2"]
    assert cli.main(argv) == 0
    out = capsys.readouterr().out
    assert "Rotation (the stack declares a poll interval of 30s; the twin polls every 0.2 s):" in out
    assert re.search(
        r"ledger: ledger-\S+/ledger-key changed in Key Vault -> file rewritten after [0-9.]+ s, app "
        r"logged it after [0-9.]+ s; within the goal of 5.2 s",
        out,
    ), out
    assert "7 of 7 links held." in out and "10 of 10 links held." in out

    def wrong_client(p: Program) -> FilesDeclarations:
        declared = from_program(p)
        return with_class(
            declared, clientID=next(i for i in declared.identities if i.name.startswith("reader-")).client_id
        )

    monkeypatch.setattr(cli, "from_program", wrong_client)
    assert cli.main(argv) == 1
    err = capsys.readouterr().err
    assert (
        "ledger: the pod did not start, its secrets could not be mounted: the 'files: client id' link is broken: "
        in err
    )
    assert "Warning FailedMount:" in err and "AADSTS70021" in err

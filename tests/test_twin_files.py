"""The twin proves secrets as files: its CSI driver and Azure provider sign in with the pod's own service-account
token, read Key Vault, write the files before the app starts, follow a rotation, keep one workload's mount from
another's secret, and fail the mount, naming the link, when a class is broken."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import replace

import pytest
from secret_reader import facts as app_facts

import twin.__main__ as cli
from aks_workload_identity import facts
from twin import csi, rotation
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


# --- the driver's and the provider's refusals, rotation off, the facts the app shares ----------------------------


def objects(*items: dict[str, str]) -> str:
    """An `objects` parameter as the provider parses it, from the given objects."""
    return "array:\n" + "".join(
        "  - |\n" + "".join(f"    {key}: {value}\n" for key, value in item.items()) for item in items
    )


def test_a_volume_is_read_only_only_when_its_csi_read_only_is_true() -> None:
    """Breaks if parse_volumes reads the container's volumeMount readOnly, or takes a missing readOnly for true."""

    def volume(csi_read_only: object, mount_read_only: bool) -> csi.CsiVolume:
        source: dict[str, object] = {"driver": facts.SECRETS_STORE_CSI_DRIVER}
        if csi_read_only is not None:
            source["readOnly"] = csi_read_only
        pod = {
            "volumes": [{"name": "v", "csi": source}],
            "containers": [{"volumeMounts": [{"name": "v", "mountPath": "/m", "readOnly": mount_read_only}]}],
        }
        (parsed,) = csi.parse_volumes(pod)
        return parsed

    assert volume(True, False).read_only
    assert not volume(None, True).read_only
    assert not volume(False, True).read_only


def test_a_volume_that_is_not_read_only_is_refused_by_the_driver(twin: Twin, program: Program) -> None:
    """Breaks if SecretsStore.mount does not check `CsiVolume.read_only` (nodeserver.go: "ensure it's read-only")."""
    declared = from_program(program)
    ((volume,),) = declared.csi_volumes.values()
    twin.configure(replace(declared, csi_volumes={"ledger": (replace(volume, read_only=False),)}))
    with pytest.raises(MountFailed) as failed:
        twin.launch(0.02, workload="ledger")
    assert str(failed.value) == (
        'Warning FailedMount: MountVolume.SetUp failed for volume "secrets-store" : rpc error: '
        "code = InvalidArgument desc = Readonly is not true in request"
    )
    assert twin.entra.grants == [] and list(twin.workdir.glob("pod-ledger-*/csi")) == []


def test_an_object_without_a_name_fails_the_mount_naming_it(twin: Twin, program: Program) -> None:
    """Breaks if SecretProviderClass.objects lets an object without objectName through (a KeyError, a traceback)."""
    declared = from_program(program)
    twin.configure(with_class(declared, objects=objects({"objectType": "secret", "objectAlias": "key"})))
    with pytest.raises(MountFailed) as failed:
        twin.launch(0.02, workload="ledger")
    assert "every object needs an objectName" in failed.value.error


def test_an_objects_file_is_named_after_its_alias_and_follows_a_rotation(twin: Twin, program: Program) -> None:
    """Breaks if the files are named after objectName when objectAlias is set, or if the rotation proof looks the
    secret up by its file's name (StopIteration)."""
    declared = from_program(program)
    (secret,) = [s for s in declared.secrets if s.name == "ledger-key"]
    aliased = {"objectName": "ledger-key", "objectType": "secret", "objectAlias": "key.txt"}
    declared = with_class(declared, objects=objects(aliased))
    reads_alias = {**declared.workload("ledger").env, facts.SECRET_FILE_ENV: "/etc/ledger/key.txt"}
    workloads = tuple(replace(w, env=reads_alias) if w.name == "ledger" else w for w in declared.workloads)
    twin.configure(replace(declared, workloads=workloads))
    mount = twin.secrets_store.mount(declared.workload("ledger"), twin.workdir / "pod")
    assert mount is not None
    assert sorted(p.name for p in mount.directory.iterdir()) == ["key.txt"]
    assert (mount.directory / "key.txt").read_text() == secret.value
    twin.secrets_store.start(0.1)
    try:
        (result,) = rotation.prove(twin, 0.1, 0.02, timeout=10)
    finally:
        twin.secrets_store.stop()
    assert result.ok, result.render()
    assert result.secret == f"{secret.vault_name}/ledger-key"


def test_rotating_a_secret_finds_its_vault_whatever_the_casing(twin: Twin, program: Program) -> None:
    """Breaks if rotate_secret compares vault names with their case (StopIteration for a class's keyvaultName in
    other case, which the provider and Key Vault accept)."""
    declared = from_program(program)
    twin.configure(declared)
    (secret,) = [s for s in declared.secrets if s.name == "ledger-key"]
    changed = rotate_secret(twin, secret.vault_name.upper(), "LEDGER-KEY", "new")
    assert (changed.vault_name, changed.name, changed.value) == (secret.vault_name, secret.name, "new")


def test_with_rotation_off_the_rotation_proof_fails_saying_so(twin: Twin, program: Program) -> None:
    """Breaks if rotation.prove proves a rotation the add-on would never make (enableSecretRotation off)."""
    declared = from_program(program)
    twin.configure(replace(declared, addon=csi.SecretsProviderAddon(True, False, "30s")))
    twin.secrets_store.start(0.1)  # a caller that polls anyway must not get a proof either
    try:
        (result,) = rotation.prove(twin, 0.1, 0.02, timeout=5)
    finally:
        twin.secrets_store.stop()
    assert not result.ok
    assert (
        result.render()
        == '  ledger: rotation not proven: rotation is off (the add-on\'s enableSecretRotation is not "true")'
    )


def test_python_m_twin_fails_when_rotation_is_off_and_names_a_refusal_for_what_it_is(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, program: Program
) -> None:
    """Breaks if `python -m twin` proves rotation with the add-on's rotation off, calls the webhook's refusal a
    failed mount, or names a link that is not broken (the first link) for a mount every link allows."""
    monkeypatch.setattr(cli, "run_program", lambda stack: program)
    argv = ["--stack", "dev", "--reads", "1", "--poll-interval", "0.05", "--rotation-poll-interval", "0.2"]

    def rotation_off(p: Program) -> FilesDeclarations:
        return replace(from_program(p), addon=csi.SecretsProviderAddon(True, False, "30s"))

    monkeypatch.setattr(cli, "from_program", rotation_off)
    assert cli.main(argv) == 1
    captured = capsys.readouterr()
    assert "Rotation (the stack's add-on has enableSecretRotation off: the driver never re-reads Key Vault):" in (
        captured.out
    )
    assert "ledger: rotation: ledger: rotation not proven: rotation is off" in captured.err

    def no_service_account(p: Program) -> FilesDeclarations:
        declared = from_program(p)
        return replace(declared, service_accounts=tuple(a for a in declared.service_accounts if a.name != "ledger"))

    monkeypatch.setattr(cli, "from_program", no_service_account)
    assert cli.main(argv) == 1
    err = capsys.readouterr().err
    assert "ledger: the pod did not start: pods is forbidden: error looking up service account ledger/ledger" in err
    assert "could not be mounted" not in err

    def writable_volume(p: Program) -> FilesDeclarations:
        declared = from_program(p)
        ((volume,),) = declared.csi_volumes.values()
        return replace(declared, csi_volumes={"ledger": (replace(volume, read_only=False),)})

    monkeypatch.setattr(cli, "from_program", writable_volume)
    assert cli.main(argv) == 1
    err = capsys.readouterr().err
    assert (
        "ledger: the pod did not start, its secrets could not be mounted: Warning FailedMount: MountVolume.SetUp "
        'failed for volume "secrets-store" : rpc error: code = InvalidArgument desc = Readonly is not true' in err
    )
    assert "link is broken" not in err


def test_the_secret_file_variable_is_one_fact_the_app_and_the_twin_share(program: Program) -> None:
    """Breaks if either facts module loses SECRET_FILE_ENV (the app's copy is held equal by test_app) or the twin
    stops reading the file's path from that variable."""
    assert app_facts.SECRET_FILE_ENV == facts.SECRET_FILE_ENV == "SECRET_FILE"
    assert facts.SECRET_FILE_ENV in from_program(program).workload("ledger").env

"""`python -m twin` (`make twin`): a stack's declarations, through the twin, with the real app for every workload.

Runs the Pulumi program under the recording mocks, configures the twin from what it declares, starts every
workload's app as its declared pod would run (side by side), shows their logs until each has read its own secret
`--reads` times, then prints each workload's trust chain. A workload that takes its secrets as files gets them
through the twin's Secrets Store CSI driver before its app starts (`twin.csi`); for each such workload whose app
reads the file, rotation is proven too (`twin.rotation`), with the driver re-reading Key Vault every
`--rotation-poll-interval` seconds in place of the stack's declared interval (a stack whose add-on has rotation off
fails that proof, as the policy pack refuses it). With two workloads or more it then
proves them isolated from each other (`twin.isolation`) and prints the pairs. Exit 0 when every chain holds and so
does the isolation; 1 (with the reason) when the stack file is missing, a setting is invalid, an app exits on its
own, a pod's secrets cannot be mounted, a link is broken, the reads time out, a rotation is late or off, or a pair
is not isolated; 2 for a bad option or a stack file that is not valid YAML (one line with the file, line and column).
"""

from __future__ import annotations

import argparse
import sys

import pulumi

from aks_workload_identity import facts
from settings import SettingsFileError
from twin import csi, rotation
from twin.arguments import positive
from twin.chain import Link, first_broken, render
from twin.declared import from_program
from twin.isolation import Proof, prove
from twin.isolation import render as render_isolation
from twin.mocks import PROJECT_DIR, run_program
from twin.model import Workload
from twin.run import GUARD_MARK, Results, Twin, read_all


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m twin", description=(__doc__ or "").partition("\n")[0])
    parser.add_argument("--stack", default="dev", help="stack whose Pulumi.<stack>.yaml config is used")
    parser.add_argument(
        "--reads", type=positive(int, "reads"), default=3, help="successful reads to wait for (at least 1)"
    )
    parser.add_argument(
        "--poll-interval",
        type=positive(float, "seconds"),
        default=1.0,
        help="the app's POLL_INTERVAL_SECONDS (seconds, > 0)",
    )
    parser.add_argument(
        "--timeout", type=positive(float, "seconds"), default=60.0, help="seconds to wait for the reads (> 0)"
    )
    parser.add_argument(
        "--rotation-poll-interval",
        type=positive(float, "seconds"),
        default=1.0,
        help="seconds between the CSI driver's re-reads of Key Vault, standing in for the stack's "
        "secretRotationPollInterval (> 0)",
    )
    return parser


def missing_stack_file(stack: str) -> str | None:
    """Why the stack cannot be run (its Pulumi.<stack>.yaml is absent), naming the stack files there are."""
    if (PROJECT_DIR / f"Pulumi.{stack}.yaml").is_file():
        return None
    existing = sorted(path.name for path in PROJECT_DIR.glob("Pulumi.*.yaml"))
    return (
        f"No stack file Pulumi.{stack}.yaml next to Pulumi.yaml, so the {stack!r} stack has no settings. "
        f"Stack files: {', '.join(existing) or 'none'}."
    )


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if problem := missing_stack_file(args.stack):
        print(problem, file=sys.stderr)
        return 1

    print(f"Running the Pulumi program ({args.stack} stack) under mocks ...", flush=True)
    try:
        program = run_program(stack=args.stack)
    except SettingsFileError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except pulumi.RunError as error:
        # What `pulumi up` prints for a RunError (settings.SettingsError is one): the message, no stack trace.
        print(f"error: {error}", file=sys.stderr)
        return 1
    try:
        declarations = from_program(program)
    except ValueError as error:
        print(f"The twin cannot model the {args.stack} stack: {error}", file=sys.stderr)
        return 1
    if not declarations.workloads:
        print(f"The {args.stack} stack declares no workload (no Deployment): nothing to run.", file=sys.stderr)
        return 1

    with Twin() as twin:
        twin.configure(declarations)
        names = ", ".join(w.name for w in declarations.workloads)
        print(
            f"Twin: issuer {declarations.cluster.issuer_url}, Entra ID, vault(s) "
            f"{', '.join(v.uri for v in declarations.vaults)}; workload(s) {names}.",
            flush=True,
        )
        width = max((len(w.name) for w in declarations.workloads), default=0)
        results = read_all(
            twin,
            args.reads,
            args.poll_interval,
            args.timeout,
            on_line=lambda name, line: print(f"  {name:<{width}} | {line}", flush=True),
        )
        # Workload -> the first broken link of its CSI chain ("" if none) for each pod whose mount failed.
        unmounted: dict[str, str] = {}
        for result in results.workloads:
            print()
            print(f"Workload {result.name}:")
            print(render(list(result.links)) if result.links else f"  not started: {result.rejected}")
            if result.mount_failed and (links := _files_links(twin, result.workload)):
                print(render(links))
                broken = first_broken(links)
                unmounted[result.name] = broken.name if broken else ""
        print(
            f"Token requests {results.token_requests}, challenges {results.challenges}, "
            f"secret GETs {results.gets}; every app's reads in {results.seconds:.1f} s."
        )
        rotations = _rotations(twin, args.rotation_poll_interval, args.poll_interval)
        proof = prove(twin) if len(declarations.workloads) > 1 else None
        if proof is not None:
            print()
            print(render_isolation(proof))
    return _verdict(results, proof, args.timeout, rotations, unmounted)


def _files_links(twin: Twin, workload: Workload) -> list[Link]:
    """The CSI driver's chain of a workload whose pod has a CSI volume (empty otherwise), as declared."""
    assert twin.declarations is not None
    volumes = csi.volumes_of(twin.declarations, workload)
    if not volumes:
        return []
    spc = csi.class_of(twin.declarations, workload.namespace, volumes[0].class_name)
    return csi.files_chain(twin, workload, spc, mounted=False)


def _rotations(twin: Twin, interval: float, app_poll: float) -> list[rotation.Rotation]:
    """The rotation proof for every files workload, with the driver's passes every `interval` seconds."""
    assert twin.declarations is not None
    addon = csi.addon_of(twin.declarations)
    if addon is not None and addon.rotation:
        twin.secrets_store.start(interval)
        heading = f"the stack declares a poll interval of {addon.poll_interval}; the twin polls every {interval:g} s"
    else:
        heading = f"the stack's add-on has {facts.SECRET_ROTATION_CONFIG} off: the driver never re-reads Key Vault"
    try:
        rotations = rotation.prove(twin, interval, app_poll)
    finally:
        twin.secrets_store.stop()
    if rotations:
        print()
        print(f"Rotation ({heading}):")
        for result in rotations:
            print(result.render())
    return rotations


def _verdict(
    results: Results,
    proof: Proof | None,
    timeout: float,
    rotations: list[rotation.Rotation],
    unmounted: dict[str, str],
) -> int:
    """Exit code 0 or 1, each problem said in one line on stderr."""
    problems = []
    if results.refused or any(GUARD_MARK in w.log for w in results.workloads):
        problems.append(f"An app tried to reach something other than the twin: {list(results.refused)}")
    if results.dropped:
        dropped = "\n  ".join(dict.fromkeys(results.dropped))
        print(f"The declared NetworkPolicies dropped pods' connections:\n  {dropped}", file=sys.stderr)
    for w in results.workloads:
        if w.mount_failed:
            where = f"the '{unmounted[w.name]}' link is broken: " if unmounted.get(w.name) else ""
            problems.append(f"{w.name}: the pod did not start, its secrets could not be mounted: {where}{w.rejected}")
        elif w.rejected:
            problems.append(f"{w.name}: the pod did not start: {w.rejected}")
        elif w.exited_early and not w.read:
            problems.append(
                f"{w.name}: the app exited with code {w.exit_code} before reading the secret {results.reads} times: "
                f"{w.last_line or '(it printed nothing)'}"
            )
        elif not w.read:
            broken = first_broken(list(w.links))
            where = f"the '{broken.name}' link is broken" if broken else "see the app's log above"
            problems.append(
                f"{w.name}: the app did not read its secret {results.reads} times in {timeout:g} s: {where}"
            )
        elif broken := first_broken(list(w.links)):
            problems.append(f"{w.name}: the app read its secret, but the '{broken.name}' link is broken")
    problems += [f"{r.workload}: rotation: {r.render().strip()}" for r in rotations if not r.ok]
    if proof is not None and not proof.holds:
        problems.append(
            f"The workloads are not proven isolated: {len(proof.breaks)} break(s), "
            f"{len(proof.unproven)} attempt(s) unproven."
        )
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        return 1
    isolated = ", each isolated from the others" if proof is not None else ""
    isolated += f"; rotation reached {len(rotations)} files workload(s) in time" if rotations else ""
    print(
        f"Every workload's app ({len(results.workloads)}) read its own secret {results.reads} times through the "
        f"whole chain{isolated}."
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

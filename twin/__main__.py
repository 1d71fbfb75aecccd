"""`python -m twin` (`make twin`): a stack's declarations, through the twin, with the real app.

Runs the Pulumi program under the recording mocks, configures the twin from what it declares, starts the app
as the declared pod would run, shows its log until it has read the secret `--reads` times, then prints the
trust chain it checked. Exit 0 when the chain holds; 1 (with the reason) when the stack file is missing, a
setting is invalid, the app exits on its own, a link is broken or the reads time out; 2 for a bad option.
"""

from __future__ import annotations

import argparse
import math
import sys
import time

import pulumi

from twin.chain import first_broken, render, trust_chain
from twin.declared import from_program
from twin.mocks import PROJECT_DIR, run_program
from twin.run import GUARD_MARK, Twin
from twin.webhook import PodRejected

READ_LINE = r"^Your secret is "


def _reads(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of reads of at least 1")
    return value


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive, finite number of seconds")
    return value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m twin", description=__doc__.splitlines()[0])
    parser.add_argument("--stack", default="dev", help="stack whose Pulumi.<stack>.yaml config is used")
    parser.add_argument("--reads", type=_reads, default=3, help="successful reads to wait for (at least 1)")
    parser.add_argument(
        "--poll-interval", type=_seconds, default=1.0, help="the app's POLL_INTERVAL_SECONDS (seconds, > 0)"
    )
    parser.add_argument("--timeout", type=_seconds, default=60.0, help="seconds to wait for the reads (> 0)")
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
    except pulumi.RunError as error:
        # What `pulumi up` prints for a RunError (settings.SettingsError is one): the message, no stack trace.
        print(f"error: {error}", file=sys.stderr)
        return 1
    try:
        declarations = from_program(program)
    except ValueError as error:
        print(f"The twin cannot model the {args.stack} stack: {error}", file=sys.stderr)
        return 1

    with Twin() as twin:
        twin.configure(declarations)
        print(
            f"Twin: issuer {declarations.cluster.issuer_url}, Entra ID, vault(s) "
            f"{', '.join(v.uri for v in declarations.vaults)}; proxy {twin.proxy.url}.",
            flush=True,
        )
        try:
            app = twin.launch(args.poll_interval, on_line=lambda line: print(f"  app | {line}", flush=True))
        except PodRejected as rejected:
            print(f"The pod was not admitted: {rejected}", file=sys.stderr)
            return 1
        started = time.monotonic()
        with app:
            read = app.wait_for(READ_LINE, args.reads, args.timeout)
            elapsed = time.monotonic() - started
            exited = app.process.poll()  # not None: the app ended on its own, before the twin stopped it
        links = trust_chain(declarations, app.admission, twin.entra.grants, twin.keyvault.reads)
        print()
        print(render(links))
        print(
            f"Token requests {twin.entra.token_requests}, challenges {twin.keyvault.challenges}, "
            f"secret GETs {twin.keyvault.gets}, in {elapsed:.1f} s; app exit code {app.process.returncode}."
        )
        if GUARD_MARK in app.log or twin.proxy.refused:
            print(f"The app tried to reach something other than the twin: {twin.proxy.refused}", file=sys.stderr)
            return 1
        if not read and exited is not None:
            print(
                f"The app exited with code {exited} before reading the secret {args.reads} times: "
                f"{app.last_line or '(it printed nothing)'}",
                file=sys.stderr,
            )
            return 1
        if twin.proxy.dropped:
            dropped = "\n  ".join(dict.fromkeys(twin.proxy.dropped))
            print(f"The declared NetworkPolicies dropped the pod's connections:\n  {dropped}", file=sys.stderr)
        if not read:
            broken = first_broken(links)
            where = f"the '{broken.name}' link is broken" if broken else "see the app's log above"
            print(
                f"The app did not read the secret {args.reads} times in {args.timeout:g} s: {where}.", file=sys.stderr
            )
            return 1
    print(f"The app read the secret {args.reads} times through the whole chain.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""`python -m twin` (`make twin`): the dev stack's declarations, through the twin, with the real app.

Runs the Pulumi program under the recording mocks, configures the twin from what it declares, starts the app
as the declared pod would run, shows its log until it has read the secret `--reads` times, then prints the
trust chain it checked. Exit 0 when the chain holds; 1 (with the broken link) when it breaks or times out.
"""

from __future__ import annotations

import argparse
import sys
import time

from twin.chain import first_broken, render, trust_chain
from twin.declared import from_program
from twin.mocks import run_program
from twin.run import GUARD_MARK, Twin
from twin.webhook import PodRejected

READ_LINE = r"^Your secret is "


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m twin", description=__doc__.splitlines()[0])
    parser.add_argument("--stack", default="dev", help="stack whose Pulumi.<stack>.yaml config is used")
    parser.add_argument("--reads", type=int, default=3, help="successful reads to wait for")
    parser.add_argument("--poll-interval", type=float, default=1.0, help="the app's POLL_INTERVAL_SECONDS")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for the reads")
    args = parser.parse_args(argv)

    print(f"Running the Pulumi program ({args.stack} stack) under mocks ...", flush=True)
    declarations = from_program(run_program(stack=args.stack))
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

"""`python -m twin.bench`: the steady state, measured. The app polls the dev stack's secret `--polls` times.

A correct app makes one token request per token lifetime and answers the Key Vault challenge once, so the
expected figures are 1 token request, 1 challenge and one GET per poll.
"""

from __future__ import annotations

import argparse
import time
from collections import Counter

from twin.declared import from_program
from twin.mocks import run_program
from twin.run import Twin


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m twin.bench", description=__doc__.splitlines()[0])
    parser.add_argument("--polls", type=int, default=100)
    parser.add_argument("--poll-interval", type=float, default=0.01)
    parser.add_argument("--timeout", type=float, default=60.0)
    args = parser.parse_args(argv)

    declarations = from_program(run_program())
    with Twin() as twin:
        twin.configure(declarations)
        started = time.monotonic()
        with twin.launch(args.poll_interval) as app:
            counts = twin.keyvault.wait_for_reads(args.polls, args.timeout)
            wall = time.monotonic() - started
            tokens = twin.entra.token_requests
        if counts is None:
            print(f"timed out after {args.timeout:g} s with {len(twin.keyvault.reads)} reads; app log:\n{app.log}")
            return 1
    print(f"polls (secret reads)   {counts.reads}")
    print(f"token requests         {tokens}")
    print(f"401 challenges         {counts.challenges}")
    print(f"secret GETs with token {counts.gets}")
    print(f"poll interval          {args.poll_interval:g} s")
    print(f"wall time              {wall:.2f} s (app start to the {counts.reads}th read)")
    for host, requests in sorted(Counter(hit.host for hit in twin.proxy.hits).items()):
        print(f"requests to {host}: {requests}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

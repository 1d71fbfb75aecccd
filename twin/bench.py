"""`python -m twin.bench`: the app's cost in steady state and its lag after propagation, measured against goals.

Both parts run the real app as the dev stack's pod, through the twin (`make bench` runs this, then
`tests/app_bench.py`). Every figure is printed beside its goal; the exit code is 1 when a goal is missed or a run
went wrong (a figure from a broken run would be no measurement), 2 for a bad option.

- Steady state: the app polls `--polls` times. A correct app makes one token request per token lifetime and
  answers the Key Vault challenge once (facts: Entra ID token exchange), so: 1 token request, 1 challenge and
  one GET per poll.
- Propagation: as after a first `pulumi up`, every token request fails with AADSTS70021 for `--window`
  seconds, then every secret GET gets 403 ForbiddenByRbac for `--window` more (both windows timed from the
  app's first token request, `twin.faults`). The lag is measured from the end of the second window to the
  app's first successful read and to its first `/readyz` 200 (probed every 50 ms, so the figure is the app's,
  not a kubelet's probe period); `--runs` runs, each with its own twin and app, side by side. `pulumi up` waits
  for readiness, so the goal is one poll interval (the app's next attempt) plus 1 s.
"""

from __future__ import annotations

import argparse
import math
import re
import statistics
import sys
import threading
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass

from twin.declared import from_program
from twin.faults import Faults
from twin.mocks import run_program
from twin.model import Declarations
from twin.run import GUARD_MARK, Keys, Twin

# --- goals, stated once -----------------------------------------------------------------------------------------

#: Token requests in steady state: one per token lifetime, and a bench run is far shorter than one.
GOAL_TOKEN_REQUESTS = 1
#: Key Vault 401 challenges: the client caches the first one.
GOAL_CHALLENGES = 1
#: Authorized secret GETs per poll.
GOAL_GETS_PER_POLL = 1
#: After propagation, the app reads and is ready within one poll interval plus this many seconds.
GOAL_LAG_SLACK_SECONDS = 1.0

READ_LINE = re.compile(r"^Your secret is ")
PROBE_SECONDS = 0.05


def _positive(kind: Callable[[str], float]) -> Callable[[str], float]:
    """An argparse type: a positive, finite number of the given kind."""

    def parse(text: str) -> float:
        try:
            value = kind(text)
        except ValueError:
            value = math.nan
        if not (math.isfinite(value) and value > 0):
            raise argparse.ArgumentTypeError(f"{text!r} is not a positive, finite number")
        return value

    return parse


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m twin.bench", description=__doc__.splitlines()[0])
    steady = parser.add_argument_group("steady state")
    steady.add_argument("--polls", type=_positive(int), default=100, help="reads to count (default 100)")
    steady.add_argument(
        "--poll-interval", type=_positive(float), default=0.01, help="the app's interval here (default 0.01 s)"
    )
    steady.add_argument("--timeout", type=_positive(float), default=60.0, help="seconds for the reads (default 60)")
    propagation = parser.add_argument_group("propagation")
    propagation.add_argument(
        "--window", type=_positive(float), default=60.0, help="seconds of each fault window (default 60)"
    )
    propagation.add_argument("--runs", type=_positive(int), default=5, help="runs, side by side (default 5)")
    propagation.add_argument(
        "--interval",
        type=_positive(float),
        default=5.0,
        help="the app's POLL_INTERVAL_SECONDS in these runs (default 5, the app's own default)",
    )
    parser.add_argument("--only", choices=("steady", "propagation"), help="run one part only")
    return parser


def _verdict(ok: bool) -> str:
    return "ok" if ok else "MISSED"


# --- steady state -----------------------------------------------------------------------------------------------


def steady_state(declarations: Declarations, keys: Keys, polls: int, interval: float, timeout: float) -> bool:
    with Twin(keys) as twin:
        twin.configure(declarations)
        with twin.launch(interval) as app:
            counts = twin.keyvault.wait_for_reads(polls, timeout)
            tokens = twin.entra.token_requests
        if counts is None:
            print(f"steady state: timed out after {timeout:g} s with {len(twin.keyvault.reads)} reads; app log:")
            print(app.log)
            return False
        clean = GUARD_MARK not in app.log and not twin.proxy.refused
    rows = [
        ("token requests", tokens, GOAL_TOKEN_REQUESTS),
        ("401 challenges", counts.challenges, GOAL_CHALLENGES),
        ("secret GETs with a token", counts.gets, GOAL_GETS_PER_POLL * counts.reads),
    ]
    print(f"Steady state: {counts.reads} polls, the app polling every {interval:g} s")
    for name, figure, goal in rows:
        print(f"  {name:<26} {figure:>6}   goal {goal:<6} {_verdict(figure == goal)}")
    if not clean:
        print("  the app tried to leave the twin (see the proxy's refusals): run void")
    return clean and all(figure == goal for _, figure, goal in rows)


# --- propagation ------------------------------------------------------------------------------------------------


@dataclass
class Lag:
    """One run's figures (seconds after the windows ended), or why the run is void."""

    read: float | None = None
    ready: float | None = None
    void: str | None = None


def propagation_run(declarations: Declarations, keys: Keys, window: float, interval: float) -> Lag:
    faults = Faults(federation_unpropagated_seconds=window, rbac_unpropagated_seconds=2 * window)
    deadline = time.monotonic() + 2 * window + 10 * interval + 60
    no_proxy = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with Twin(keys) as twin:
        twin.configure(declarations, faults)
        with twin.launch(interval) as app:
            ready_at = None
            while ready_at is None and time.monotonic() < deadline and app.process.poll() is None:
                port = app.health_port
                if port is not None and _ready(no_proxy, port):
                    ready_at = time.monotonic()
                else:
                    time.sleep(PROBE_SECONDS)
            # /readyz turns 200 as the read is made, a moment before its log line reaches the pipe.
            app.wait_for(READ_LINE.pattern, timeout=5)
            end = twin.faults.window_end()
            reads = [at for at, line in app.lines if READ_LINE.search(line)]
        log = app.log
        errors = list(twin.entra.errors)
        refused = list(twin.proxy.refused)
    if ready_at is None or end is None or not reads:
        return Lag(void=f"no read or no readiness within the time allowed; app log:\n{log}")
    void = []
    if 70021 not in errors:
        void.append("no AADSTS70021 was served")
    if "ForbiddenByRbac" not in log:
        void.append("no 403 ForbiddenByRbac was served")
    if reads[0] < end:
        void.append("the app read the secret before the windows ended")
    if GUARD_MARK in log or refused:
        void.append("the app tried to leave the twin")
    if void:
        return Lag(void="; ".join(void) + f"; app log:\n{log}")
    return Lag(read=reads[0] - end, ready=ready_at - end)


def _ready(opener: urllib.request.OpenerDirector, port: int) -> bool:
    try:
        with opener.open(f"http://127.0.0.1:{port}/readyz", timeout=5) as response:
            return response.status == 200
    except OSError:  # 503 (HTTPError) or not listening yet
        return False


def propagation(declarations: Declarations, keys: Keys, runs: int, window: float, interval: float) -> bool:
    print(
        f"Propagation: {runs} runs side by side, each {window:g} s of AADSTS70021 then {window:g} s of "
        f"403 ForbiddenByRbac, the app polling every {interval:g} s",
        flush=True,
    )
    lags: list[Lag] = [Lag() for _ in range(runs)]

    def run(index: int) -> None:
        try:
            lags[index] = propagation_run(declarations, keys, window, interval)
        except Exception as exc:  # a crashed run is a void run, reported below
            lags[index] = Lag(void=f"{type(exc).__name__}: {exc}")

    threads = [threading.Thread(target=run, args=(i,), name=f"run-{i}") for i in range(runs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    void = [lag.void for lag in lags if lag.void]
    for reason in void:
        print(f"  void run: {reason}")
    if void:
        return False
    goal = interval + GOAL_LAG_SLACK_SECONDS
    ok = True
    for name, figures in (
        ("window end to first read", [lag.read for lag in lags]),
        ("window end to first /readyz 200", [lag.ready for lag in lags]),
    ):
        median, worst = statistics.median(figures), max(figures)
        met = worst <= goal
        ok = ok and met
        print(
            f"  {name:<32} median {median:6.2f} s  max {worst:6.2f} s   goal <= {goal:g} s "
            f"(interval + {GOAL_LAG_SLACK_SECONDS:g} s)  {_verdict(met)}"
        )
    return ok


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    declarations = from_program(run_program())
    keys = Keys.generate()
    ok = True
    if args.only in (None, "steady"):
        ok = steady_state(declarations, keys, args.polls, args.poll_interval, args.timeout) and ok
    if args.only in (None, "propagation"):
        ok = propagation(declarations, keys, args.runs, args.window, args.interval) and ok
    print("twin bench: every goal met" if ok else "twin bench: a goal was missed or a run was void", flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

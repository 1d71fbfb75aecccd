"""The twin's timed propagation windows, which `python -m twin.bench` measures the app's lag against.

Both windows start at the app's first token request, so the bench can chain them (federation for F seconds,
then RBAC until F + R) and know exactly when the last one ends.
"""

from __future__ import annotations

import time

from twin.faults import Faults, FaultState


def test_windows_start_at_the_first_token_request_and_end_after_their_seconds() -> None:
    state = FaultState(Faults(federation_unpropagated_seconds=0.2, rbac_unpropagated_seconds=0.4))
    assert state.origin is None and state.window_end() is None
    assert state.rbac_unpropagated() is False  # no window before the first token request
    before = time.monotonic()
    assert state.federation_unpropagated() is True
    origin = state.origin
    assert origin is not None and before <= origin <= time.monotonic()
    assert state.window_end() == origin + 0.4
    assert state.rbac_unpropagated() is True
    time.sleep(max(0.0, origin + 0.2 - time.monotonic()) + 0.02)
    assert state.federation_unpropagated() is False
    assert state.rbac_unpropagated() is True
    time.sleep(max(0.0, origin + 0.4 - time.monotonic()) + 0.02)
    assert state.rbac_unpropagated() is False
    assert state.origin == origin  # later requests do not move it


def test_the_counted_rbac_fault_still_takes_its_gets_without_a_time_window() -> None:
    state = FaultState(Faults(rbac_unpropagated_gets=2))
    state.federation_unpropagated()
    assert [state.rbac_unpropagated() for _ in range(3)] == [True, True, False]
    assert state.used("rbac_unpropagated_gets") == 2

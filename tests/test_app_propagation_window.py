"""The twin's timed propagation windows, which `python -m twin.bench` measures the app's lag against.

Both windows start at the app's first token request, so the bench can chain them (federation for F seconds,
then RBAC until F + R) and know exactly when the last one ends.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest

import twin.faults
from twin.faults import Faults, FaultState


class FakeMonotonic:
    """`time.monotonic` for `twin.faults` only: it moves when the test says, so no sleep can be too short."""

    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeMonotonic:
    clock = FakeMonotonic()
    monkeypatch.setattr(twin.faults, "time", SimpleNamespace(monotonic=clock.monotonic))
    return clock


def test_windows_start_at_the_first_token_request_and_end_after_their_seconds(clock: FakeMonotonic) -> None:
    state = FaultState(Faults(federation_unpropagated_seconds=20, rbac_unpropagated_seconds=40))
    assert state.origin is None and state.window_end() is None
    clock.now += 5
    assert state.rbac_unpropagated() is False  # no window before the first token request
    clock.now += 5
    assert state.federation_unpropagated() is True
    assert state.origin == 1010 and state.window_end() == 1050
    assert state.rbac_unpropagated() is True
    clock.now += 19.5
    assert state.federation_unpropagated() is True
    clock.now += 0.5  # windows are half-open: [origin, origin + seconds)
    assert state.federation_unpropagated() is False
    assert state.rbac_unpropagated() is True
    clock.now += 19.5
    assert state.rbac_unpropagated() is True
    clock.now += 0.5
    assert state.rbac_unpropagated() is False
    assert state.origin == 1010  # later requests do not move it


def test_the_counted_rbac_fault_still_takes_its_gets_without_a_time_window() -> None:
    state = FaultState(Faults(rbac_unpropagated_gets=2))
    state.federation_unpropagated()
    assert [state.rbac_unpropagated() for _ in range(3)] == [True, True, False]
    assert state.used("rbac_unpropagated_gets") == 2

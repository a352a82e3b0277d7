"""What the engine does with the driver's ResponseFutures beyond its public API."""

from __future__ import annotations

from typing import Any


def release_timer(future: Any) -> None:
    """Break the driver's reference cycle future → timer → bound ``_on_timeout`` → future.

    A request sent with a timeout gets a Timer whose callback is the future's own method; the timer
    is cancelled when the response arrives but stays referenced by the future. The cycle, and the
    result the future holds (a decoded page of thousands of rows), is then freed only by Python's
    cyclic garbage collector: during a scan it ran rarely (few container objects are allocated while
    pages are converted), so an export's memory grew with the table; during a load every write left
    one such cycle for the collector to trace. Call it once the future's outcome has been taken."""
    timer = getattr(future, "_timer", None)
    if timer is not None:
        timer.cancel()
        future._timer = None

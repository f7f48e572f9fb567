"""What the processes of one test run (xdist workers) share: things built once, and
the machine itself, which a test with a tight time bound needs to itself."""

from __future__ import annotations

import contextlib
import fcntl
from collections.abc import Callable, Iterator
from pathlib import Path

from filelock import FileLock

# Building a venv may take minutes where uv has no cache yet.
BUILD_TIMEOUT = 1200


def once_per_run(root: Path, name: str, build: Callable[[Path], Path]) -> Path:
    """`build(root / name)` by the first process to ask; the others wait for it and
    get its result. `root` is the folder every process of the run shares."""
    made = root / f"{name}.path"
    with FileLock(str(root / f"{name}.lock"), timeout=BUILD_TIMEOUT):
        if not made.exists():
            made.write_text(str(build(root / name)))
        return Path(made.read_text())


@contextlib.contextmanager
def _flock(path: Path, operation: int) -> Iterator[None]:
    with path.open("a") as file:
        fcntl.flock(file, operation)  # released when the file is closed
        yield


@contextlib.contextmanager
def machine_share(root: Path, *, alone: bool) -> Iterator[None]:
    """Hold the machine with the run's other tests (shared), or `alone` (exclusive).

    A test alone waits for the tests in progress to end, and no test starts until
    it is done; the gate makes tests that come later queue behind a waiting one
    (flock alone would let shared holders overtake it for ever). The wait ends when
    the tests in progress end: each has pytest-timeout's bound.
    """
    gate, machine = root / "machine.gate", root / "machine.lock"
    if alone:
        with _flock(gate, fcntl.LOCK_EX), _flock(machine, fcntl.LOCK_EX):
            yield
        return
    with _flock(gate, fcntl.LOCK_EX):
        pass
    with _flock(machine, fcntl.LOCK_SH):
        yield


class MachineHold:
    """One worker's hold on the machine from one test to the next.

    Each test takes the machine shared, or alone; a test alone that is followed by
    another test alone keeps it for that one, so that a run of them waits once for
    the tests in progress elsewhere (each wait idles the other workers), not once
    per test.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self._held: contextlib.ExitStack | None = None

    def take(self, *, alone: bool) -> None:
        if self._held is not None:
            return  # kept, alone, by the test before
        held = contextlib.ExitStack()
        held.enter_context(machine_share(self.root, alone=alone))
        self._held = held

    def let_go(self, *, keep_alone: bool) -> None:
        """After a test: keep the machine for the next test when both are alone."""
        if not keep_alone:
            self.release()

    def release(self) -> None:
        if self._held is not None:
            self._held.close()
            self._held = None

"""Report folders replaced whole, safely against killed runs and against each other.

A report is built in a hidden sibling of its folder and swapped into place:

    out/<id>/                              flock()ed (advisory, exclusive) around each step below
    out/<id>/.<date>.tmp-XXXX/             a run building the next <date>; the run holds a
                                           flock on this folder while it lives
    out/<id>/.<date>.old-XXXX/             the previous <date>, for the instant of the swap
    out/<id>/<date>/                       what readers see: the old report or the new, whole

Creating a staging folder and swapping one into place both happen under the parent's lock (taken
on the folder itself, so no lock file is left behind), and under that lock the leftovers of dead
runs are cleared first: a `.tmp-` folder nobody holds is removed; an `.old-` folder is removed, or
renamed back when a run died between the swap's two renames and left no report in place. So a
SIGKILL at any moment costs at most a leftover that the next publish of the same report clears,
and two runs publishing the same report take turns at the swap. Where flock is missing (Windows,
some network filesystems) publishing still works, without the locks, and `.tmp-` leftovers stay.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from reportkit.errors import RenderError

try:
    import fcntl
except ImportError:  # pragma: no cover - no flock (Windows): no locking, leftovers stay
    fcntl = None  # type: ignore[assignment]

LOCK_WAIT = 60.0  # seconds a run waits for another one's swap before giving up
_LEFTOVER = re.compile(r"^\.(?P<name>.+)\.(?P<kind>tmp|old)-[^/]+$")


class _Handle:
    """An open folder; closed (its flock released) by `close()` or, should an interrupt land
    between opening and closing, when the object is dropped."""

    __slots__ = ("fd",)

    def __init__(self, folder: Path) -> None:
        self.fd = os.open(folder, os.O_RDONLY)

    def try_lock(self) -> bool | None:
        """True: locked; False: another holder has it; None: this filesystem has no flock."""
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        except OSError:  # ENOLCK, EOPNOTSUPP on some network and FUSE filesystems
            return None
        return True

    def close(self) -> None:
        fd = getattr(self, "fd", -1)  # unset when open() failed or was interrupted
        self.fd = -1
        if fd >= 0:
            os.close(fd)

    __del__ = close


@contextlib.contextmanager
def locked(parent: Path, *, wait: float = LOCK_WAIT) -> Iterator[None]:
    """Hold the exclusive advisory lock of `parent` (a report id's folder), taken on the folder."""
    if fcntl is None:  # pragma: no cover
        yield
        return
    try:
        handle = _Handle(parent)
    except OSError as exc:
        raise RenderError(f"could not lock {parent}: {exc.strerror or exc}") from exc
    try:
        deadline = time.monotonic() + wait
        while handle.try_lock() is False:  # None: no locks here, go on without
            if time.monotonic() >= deadline:
                raise RenderError(
                    f"could not lock {parent} within {wait:g} s: another reportkit run is "
                    "publishing there"
                )
            time.sleep(0.02)
        yield
    finally:
        handle.close()


def _hold(folder: Path) -> _Handle | None:
    """Lock `folder` itself while the returned handle stays open: the mark of a live run, which
    a dead one loses with its process."""
    if fcntl is None:  # pragma: no cover
        return None
    handle = _Handle(folder)
    if handle.try_lock() is False:  # pragma: no cover - a folder mkdtemp has just made
        handle.close()
        raise RenderError(f"{folder} is held by another run")
    return handle


def _held(folder: Path) -> bool:
    """Whether a live run holds `folder` (see `_hold`)."""
    if fcntl is None:  # pragma: no cover - cannot tell: leave it
        return True
    try:
        handle = _Handle(folder)
    except OSError:
        return False
    try:
        return handle.try_lock() is not True  # without flock nobody can tell: leave it
    finally:
        handle.close()


def clear_leftovers(parent: Path) -> list[str]:
    """Remove what dead runs left in `parent`; call with `locked(parent)` held.

    Returns the names handled. An `.old-` folder whose report folder is missing is renamed back
    (the newest one), so a run killed in the middle of a swap loses no report.
    """
    try:
        entries = sorted(parent.iterdir(), key=_mtime, reverse=True)
    except OSError:
        return []
    handled = []
    for entry in entries:
        match = _LEFTOVER.match(entry.name)
        if match is None or entry.is_symlink() or not entry.is_dir():
            continue
        final = parent / match["name"]
        if match["kind"] == "tmp":
            if _held(entry):
                continue  # a live run is building it
            shutil.rmtree(entry, ignore_errors=True)
        elif not final.exists() and not final.is_symlink():
            with contextlib.suppress(OSError):
                os.replace(entry, final)
        else:
            shutil.rmtree(entry, ignore_errors=True)
        handled.append(entry.name)
    return handled


def sweep(root: Path, *, wait: float = 1.0) -> list[str]:
    """`clear_leftovers` in every report folder under `root` (OUT/<id>/), each under its lock; a
    folder whose lock stays busy for `wait` seconds is skipped. For an interrupted run's way out:
    an interrupt may land anywhere, the removal of an `.old-` folder included."""
    handled: list[str] = []
    try:
        parents = [p for p in root.iterdir() if p.is_dir() and not p.is_symlink()]
    except OSError:
        return handled
    for parent in parents:
        try:
            with locked(parent, wait=wait):
                handled += [f"{parent.name}/{name}" for name in clear_leftovers(parent)]
        except RenderError:
            continue
    return handled


def _mtime(path: Path) -> float:
    try:
        return path.lstat().st_mtime
    except OSError:
        return 0.0


@contextlib.contextmanager
def staging_for(final: Path) -> Iterator[Path]:
    """A fresh hidden folder beside `final` to build the next version in; removed on the way out
    (an error or an interrupt included) unless `swap_into_place` took it."""
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RenderError(f"could not create {final.parent}: {exc.strerror or exc}") from exc
    with locked(final.parent):
        clear_leftovers(final.parent)
        try:
            staging = Path(tempfile.mkdtemp(prefix=f".{final.name}.tmp-", dir=final.parent))
            hold = _hold(staging)
        except OSError as exc:
            raise RenderError(f"could not create a folder in {final.parent}: {exc}") from exc
    try:
        yield staging
    finally:
        shutil.rmtree(staging, ignore_errors=True)  # gone already when it was swapped in
        if hold is not None:
            hold.close()


def swap_into_place(staging: Path, final: Path) -> None:
    """Replace `final` by `staging` under the parent's lock. The old folder is renamed aside first
    and removed only once the new one is in place; whatever interrupts the two renames, the old
    one is put back if the new one did not arrive."""
    os.chmod(staging, 0o755)  # mkdtemp makes 0700 folders; a report folder is an ordinary one
    with locked(final.parent):
        clear_leftovers(final.parent)
        if not final.exists():
            try:
                os.replace(staging, final)
            except OSError as exc:
                raise RenderError(f"could not publish {final}: {exc.strerror or exc}") from exc
            return
        aside = final.parent / f".{final.name}.old-{os.getpid()}-{time.monotonic_ns()}"
        try:
            os.replace(final, aside)
            os.replace(staging, final)
        except BaseException as exc:
            if aside.exists() and not final.exists():
                with contextlib.suppress(OSError):  # else the next publish puts it back
                    os.replace(aside, final)
            if isinstance(exc, OSError):
                raise RenderError(f"could not publish {final}: {exc.strerror or exc}") from exc
            raise
        finally:
            if final.exists():
                shutil.rmtree(aside, ignore_errors=True)

"""Two revisions of a repository as two folders: a commit through `git archive`, the work tree
as it is. Git is run as a subprocess with a fixed argument list (never a shell); its failures
become `InvalidInput` naming the revision."""

from __future__ import annotations

import io
import subprocess
import tarfile
from dataclasses import dataclass
from pathlib import Path

from reportkit.errors import InvalidInput, one_line

WORK_TREE = "work tree"
_TIMEOUT = 120.0


@dataclass(frozen=True, slots=True)
class Tree:
    """A revision checked out as a folder: `label` names it in every message."""

    label: str  # the revision as the user wrote it, or "work tree"
    root: Path
    commit: str | None = None  # None for the work tree

    def locate(self, relative: str) -> str:
        """How a file of this revision is named in messages: `REF:path`, git's own spelling."""
        return relative if self.commit is None else f"{self.label}:{relative}"


def _git(root: Path, *args: str) -> bytes:
    try:
        done = subprocess.run(
            ["git", *args],
            cwd=root,
            capture_output=True,
            timeout=_TIMEOUT,
            check=False,
        )
    except FileNotFoundError:
        raise InvalidInput("reportkit diff needs git, and git is not installed") from None
    except subprocess.TimeoutExpired:
        raise InvalidInput(f"git {args[0]} took longer than {_TIMEOUT:.0f} s") from None
    if done.returncode != 0:
        message = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise InvalidInput(one_line(f"git {args[0]}: {message[-1] if message else 'failed'}"))
    return done.stdout


def repository_root(start: Path) -> Path:
    """The top folder of the git work tree holding `start`."""
    folder = start if start.is_dir() else start.parent
    try:
        out = _git(folder, "rev-parse", "--show-toplevel")
    except InvalidInput:
        raise InvalidInput(f"{start}: not inside a git repository") from None
    return Path(out.decode().strip()).resolve()


def resolve_commit(root: Path, ref: str) -> str:
    """The commit `ref` names; an unknown revision is invalid input."""
    if not ref or ref.startswith("-"):
        raise InvalidInput(f"{ref!r} is not a git revision")
    try:
        return _git(root, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}").decode().strip()
    except InvalidInput:
        raise InvalidInput(one_line(f"{ref!r}: no such git revision in {root}")) from None


def checkout(root: Path, ref: str, dest: Path) -> Tree:
    """The files of commit `ref` under `dest` (made by the caller, empty), via `git archive`."""
    commit = resolve_commit(root, ref)
    archive = _git(root, "archive", "--format=tar", commit)
    dest.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(dest, filter="data")  # no links out, no absolute paths
    return Tree(ref, dest.resolve(), commit)


def work_tree(root: Path) -> Tree:
    return Tree(WORK_TREE, root)


__all__ = ["WORK_TREE", "Tree", "checkout", "repository_root", "resolve_commit", "work_tree"]

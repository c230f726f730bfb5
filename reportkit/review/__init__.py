"""`reportkit diff`: what a change to report definitions does to their numbers.

A tool built on the flow, never inside it::

    git.py      two revisions as folders: `git archive` of a commit, or the work tree itself
    pairs.py    which definitions were added, removed, renamed or changed between the folders
    summary.py  a `Review` as Markdown (sized for a pull-request comment), text or JSON

`reportkit.app.diff_revisions` runs both sides of every changed report through the flow (same
as-of day, same source, through the answer cache) and diffs their results with
`reportkit.results.diff`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Literal

from reportkit.results.diff import ReportDiff

Status = Literal["added", "removed", "renamed", "changed"]


@dataclass(frozen=True, slots=True)
class ReportReview:
    """One definition that differs between the revisions, and what that did to its numbers."""

    status: Status
    report_id: str
    title: str
    base_path: str | None  # relative to the repository root, forward slashes
    head_path: str | None
    definition_changed: bool = False
    template_changed: bool = False
    diff: ReportDiff | None = None  # None when added, removed, or a side could not run
    problems: tuple[str, ...] = ()  # located errors naming the revision; query failures

    @property
    def numbers_changed(self) -> bool:
        if self.status in ("added", "removed"):
            return True
        return self.diff is not None and self.diff.numbers_changed


@dataclass(frozen=True, slots=True)
class Review:
    base: str  # the revision as the user named it
    head: str  # a revision, or "work tree"
    as_of: date
    source: str
    reports: tuple[ReportReview, ...]
    invalid: bool = False  # a definition did not validate at one side (exit 2)
    failed: bool = False  # a query could not be answered (exit 1)

    @property
    def numbers_changed(self) -> bool:
        return any(r.numbers_changed for r in self.reports)


__all__ = ["ReportReview", "Review", "Status"]

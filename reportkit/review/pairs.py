"""Which report definitions differ between two revisions, and how.

Definitions are found under the same relative paths in both folders, matched by path; those left
over are matched as renames (the same report id, else text at least 60 % alike), and the rest are
added or removed. A pair differs when the definition's text or any file of its template folder
(`output.template`) differs.
"""

from __future__ import annotations

import difflib
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from reportkit.review import Status
from reportkit.review.git import Tree

RENAME_SIMILARITY = 0.6


@dataclass(frozen=True, slots=True)
class Definition:
    relative: str  # path from the repository root, forward slashes
    text: bytes
    template: str  # a digest of the template folder's files, "" without one
    report_id: str  # the id the file declares or its stem gives (may be wrong if invalid)


@dataclass(frozen=True, slots=True)
class Pair:
    status: Status
    base: Definition | None
    head: Definition | None

    @property
    def definition_changed(self) -> bool:
        return self.base is not None and self.head is not None and self.base.text != self.head.text

    @property
    def template_changed(self) -> bool:
        return (
            self.base is not None
            and self.head is not None
            and self.base.template != self.head.template
        )


def _declared(text: bytes, path: Path) -> tuple[str, str | None]:
    """(report id, output.template) as the file says, without validating it."""
    from reportkit.language.building import slug
    from reportkit.language.yamldoc import YamlProblem, read_yaml

    fallback = slug(path.stem).replace("_", "-") or "report"
    try:
        data = read_yaml(text.decode("utf-8")).data
    except (YamlProblem, UnicodeDecodeError, ValueError):
        return fallback, None
    if not isinstance(data, dict):
        return fallback, None
    report_id = data.get("id") if isinstance(data.get("id"), str) else fallback
    output = data.get("output")
    template = output.get("template") if isinstance(output, dict) else None
    return str(report_id), template if isinstance(template, str) else None


def _template_digest(tree: Tree, definition: Path, template: str | None) -> str:
    if template is None:
        return ""
    try:
        folder = (definition.parent / template).resolve()
    except (OSError, ValueError):
        return "unreadable"
    if not folder.is_relative_to(tree.root) or not folder.is_dir():
        return f"missing:{template}"
    digest = hashlib.sha256()
    for file in sorted(folder.rglob("*")):
        relative = file.relative_to(folder)
        if file.is_file() and not any(part.startswith(".") for part in relative.parts):
            digest.update(relative.as_posix().encode() + b"\0")
            digest.update(hashlib.sha256(file.read_bytes()).digest())
    return digest.hexdigest()


def find_definitions(tree: Tree, paths: Sequence[str]) -> dict[str, Definition]:
    """Every .yaml/.yml file under `paths` (relative to the root) in `tree`, by relative path.
    A path missing from this revision holds nothing; hidden folders are skipped."""
    found: dict[str, Definition] = {}
    for relative in paths:
        start = tree.root / relative
        if start.is_file():
            files = [start]
        elif start.is_dir():
            files = sorted(
                p
                for p in start.rglob("*")
                if p.suffix in (".yaml", ".yml")
                and p.is_file()
                and not any(part.startswith(".") for part in p.relative_to(start).parts)
            )
        else:
            files = []
        for file in files:
            name = file.relative_to(tree.root).as_posix()
            text = file.read_bytes()
            report_id, template = _declared(text, file)
            digest = _template_digest(tree, file, template)
            found[name] = Definition(name, text, digest, report_id)
    return found


def _similarity(a: Definition, b: Definition) -> float:
    return difflib.SequenceMatcher(
        None, a.text.decode("utf-8", "replace"), b.text.decode("utf-8", "replace")
    ).ratio()


def pair_definitions(base: dict[str, Definition], head: dict[str, Definition]) -> list[Pair]:
    """Every definition that differs: changed in place, renamed, added or removed."""
    pairs: list[Pair] = []
    for name in sorted(set(base) & set(head)):
        old, new = base[name], head[name]
        if old.text != new.text or old.template != new.template:
            pairs.append(Pair("changed", old, new))
    gone = [base[n] for n in sorted(set(base) - set(head))]
    new_files = [head[n] for n in sorted(set(head) - set(base))]
    for added in list(new_files):
        match = next((old for old in gone if old.report_id == added.report_id), None)
        if match is None:
            scored = [(_similarity(old, added), old) for old in gone]
            best = max(scored, key=lambda s: s[0], default=None)
            if best is not None and best[0] >= RENAME_SIMILARITY:
                match = best[1]
        if match is not None:
            gone.remove(match)
            new_files.remove(added)
            pairs.append(Pair("renamed", match, added))
    pairs += [Pair("removed", old, None) for old in gone]
    pairs += [Pair("added", None, new) for new in new_files]
    return sorted(pairs, key=lambda p: (p.head or p.base).relative)  # type: ignore[union-attr]


__all__ = ["Definition", "Pair", "find_definitions", "pair_definitions"]

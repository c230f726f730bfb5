"""Writing reports to disk: atomic report folders, results.json and manifest.json.

    out/<safe report id>/<window end YYYY-MM-DD>/
        results.json   every query's windows and rows (`save_results` / `load_results`)
        report.html, report.md (+ charts/*.png), report.pdf
        manifest.json  files with sha256, as_of, source, version, which results came from cache

A report folder is built in a hidden sibling (`.<date>.tmp-*`) and swapped into place only when
everything in it was written, so a failed run leaves the previous report as it was and no
half-written one; `staging.py` keeps that true against killed and concurrent runs. Paths stay
inside the output root whatever a report id says.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from pathlib import Path
from typing import Any

from reportkit.errors import RenderError, ReportkitError
from reportkit.language.model import OutputSpec
from reportkit.publish.files import write_atomic
from reportkit.publish.staging import staging_for, swap_into_place
from reportkit.results import ReportResult
from reportkit.results.codec import results_from_dict, results_to_dict

RESULTS_FILE = "results.json"
MANIFEST_FILE = "manifest.json"
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


_SAFE_SEGMENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,119}$")


def safe_id(report_id: str) -> str:
    """A report id as one safe path segment. An id a definition may hold (a letter or digit,
    then letters, digits, `_`, `.`, `-`) is one already and stays as it is, so two valid ids
    never share a folder. Anything else (from the Python API or an edited results.json) is
    cleaned (separators and odd characters become `-`, no leading dots) and gets 8 hex digits
    of its hash, so `../x` cannot land on the folder of the report `x`."""
    if _SAFE_SEGMENT.match(report_id):
        return report_id
    cleaned = _UNSAFE.sub("-", report_id.replace("..", "-"))
    cleaned = re.sub(r"-{2,}", "-", cleaned).strip("-").lstrip(".").strip("-")
    if not cleaned:
        raise RenderError(f"report id {report_id!r} gives no usable folder name")
    digest = hashlib.sha256(report_id.encode("utf-8", "surrogatepass")).hexdigest()[:8]
    return f"{cleaned[:100]}-{digest}"


def _confined(root: Path, candidate: Path) -> Path:
    """`candidate` if it lies inside `root` once every symlink is followed, else RenderError."""
    real_root = root.resolve()
    real = candidate.resolve()
    if real != real_root and not real.is_relative_to(real_root):
        raise RenderError(f"refusing to write {candidate}: it resolves outside {root}")
    return candidate


def _no_symlinks(root: Path, folder: Path) -> Path:
    """`folder` (below `root`) when no level of it below `root` is a symlink and it resolves
    inside `root`. `root` itself may be a link: the user chose it. A link found inside is
    refused rather than followed: a report is never written where the link points."""
    for level in (folder, *folder.parents):
        if level == root:
            break
        if level.is_symlink():
            raise RenderError(f"refusing to write through the symlink {level}")
    return _confined(root, folder)


def report_dir(out_root: Path, report_id: str, window_end: date) -> Path:
    """out_root/<safe id>/<YYYY-MM-DD>, guaranteed inside out_root (symlinks included)."""
    out_root = Path(out_root)
    return _no_symlinks(out_root, out_root / safe_id(report_id) / window_end.isoformat())


# ---------------------------------------------------------------------------- manifest


@dataclass(frozen=True, slots=True)
class ManifestFile:
    path: str  # relative to the report folder, forward slashes
    sha256: str
    bytes: int


@dataclass(frozen=True, slots=True)
class Manifest:
    report_id: str
    title: str
    as_of: date
    window_end: date
    generated_at: datetime
    source: str
    demo: bool
    reportkit_version: str
    formats: tuple[str, ...]
    files: tuple[ManifestFile, ...]
    cached: tuple[str, ...] = ()  # query ids whose results came from the cache
    directory: Path | None = field(default=None, compare=False)
    # files of the earlier report in the folder that this run did not rebuild: kept when the
    # earlier one had the same numbers, removed (and named here) when its numbers differed
    kept: tuple[str, ...] = field(default=(), compare=False)
    removed: tuple[str, ...] = field(default=(), compare=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "report_id": self.report_id,
            "title": self.title,
            "as_of": self.as_of.isoformat(),
            "window_end": self.window_end.isoformat(),
            "generated_at": self.generated_at.isoformat(),
            "source": self.source,
            "demo": self.demo,
            "reportkit_version": self.reportkit_version,
            "formats": list(self.formats),
            "files": [{"path": f.path, "sha256": f.sha256, "bytes": f.bytes} for f in self.files],
            "cached": list(self.cached),
            "directory": str(self.directory) if self.directory else None,
            "kept": list(self.kept),
            "removed": list(self.removed),
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False) + "\n"

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Manifest:
        return cls(
            report_id=data["report_id"],
            title=data.get("title", ""),
            as_of=date.fromisoformat(data["as_of"]),
            window_end=date.fromisoformat(data["window_end"]),
            generated_at=datetime.fromisoformat(data["generated_at"]),
            source=data["source"],
            demo=bool(data.get("demo", False)),
            reportkit_version=data.get("reportkit_version", ""),
            formats=tuple(data.get("formats", ())),
            files=tuple(ManifestFile(f["path"], f["sha256"], f["bytes"]) for f in data["files"]),
            cached=tuple(data.get("cached", ())),
            directory=Path(data["directory"]) if data.get("directory") else None,
        )


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def build_manifest(
    folder: Path,
    result: ReportResult,
    formats: Sequence[str],
    *,
    cached: Sequence[str] = (),
    directory: Path | None = None,
) -> Manifest:
    files = tuple(
        ManifestFile(p.relative_to(folder).as_posix(), _sha256(p), p.stat().st_size)
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != MANIFEST_FILE and not p.name.startswith(".")
    )
    return Manifest(
        report_id=result.report_id,
        title=result.title,
        as_of=result.as_of,
        window_end=result.window_end,
        generated_at=result.generated_at,
        source=result.source,
        demo=result.demo,
        reportkit_version=result.reportkit_version or _version(),
        formats=tuple(formats),
        files=files,
        cached=tuple(cached),
        directory=directory,
    )


def _version() -> str:
    from reportkit import __version__

    return __version__


# ---------------------------------------------------------------------------- publishing


def publish_report(
    out_root: Path,
    result: ReportResult,
    output: OutputSpec,
    *,
    formats: Sequence[str] | None = None,
    cached: Sequence[str] = (),
    definition: tuple[str, bytes] | None = None,
    keep: Mapping[str, bytes] | None = None,
) -> Manifest:
    """Stage results.json, the rendered files and manifest.json in a temporary sibling folder,
    then swap it into `report_dir(...)`. On any error the previous report stays untouched.
    `definition` (file name, text) is embedded in an archival PDF; `keep` holds files written
    as they are instead of rendered (an archived PDF a report was rebuilt from)."""
    final = report_dir(out_root, result.report_id, result.window_end)
    return publish_into(
        final, result, output, formats=formats, cached=cached, definition=definition, keep=keep
    )


def rerender_report(
    folder: Path, output: OutputSpec, *, formats: Sequence[str] | None = None
) -> Manifest:
    """Render a published report again from its results.json (no query runs), in place."""
    folder = Path(folder)
    results = folder / RESULTS_FILE
    if not results.is_file():
        raise RenderError(f"{folder} holds no {RESULTS_FILE}: is it a report folder?")
    result = load_results(results)
    cached: Sequence[str] = ()
    manifest = folder / MANIFEST_FILE
    if manifest.is_file():
        with contextlib.suppress(ValueError, KeyError, TypeError, RecursionError):
            cached = Manifest.from_dict(json.loads(manifest.read_text("utf-8"))).cached
    definition = None
    pdf = folder / "report.pdf"
    if pdf.is_file():
        from reportkit.publish.archive import embedded_files

        # An archival PDF stays one, with the definition it carries.
        with contextlib.suppress(ReportkitError):
            files = embedded_files(pdf)
            if RESULTS_FILE in files:
                output = replace(output, pdf_archive=True)
                definition = next(((n, d) for n, d in files.items() if n != RESULTS_FILE), None)
    return publish_into(
        folder, result, output, formats=formats, cached=cached, definition=definition
    )


def publish_into(
    final: Path,
    result: ReportResult,
    output: OutputSpec,
    *,
    formats: Sequence[str] | None = None,
    cached: Sequence[str] = (),
    definition: tuple[str, bytes] | None = None,
    keep: Mapping[str, bytes] | None = None,
) -> Manifest:
    from reportkit.render import FILE_NAMES, normalize_formats, render_report

    kept = dict(keep or {})
    wanted = normalize_formats(formats if formats is not None else output.formats)
    rendered = tuple(f for f in wanted if FILE_NAMES[f] not in kept)
    final = Path(final)
    if final.is_symlink():
        raise RenderError(f"refusing to replace the symlink {final}")
    with staging_for(final) as staging:
        save_results(result, staging / RESULTS_FILE)
        files = render_report(result, output, formats=rendered, definition=definition)
        write_rendered(staging, {**files, **kept})
        carried, removed, formats = _carry_over(final, staging, result, wanted)
        manifest = build_manifest(staging, result, formats, cached=cached, directory=final)
        manifest = replace(manifest, kept=carried, removed=removed)
        write_atomic(staging / MANIFEST_FILE, manifest.to_json().encode("utf-8"))
        swap_into_place(staging, final)
    return manifest


def _numbers(data: dict[str, Any]) -> dict[str, Any]:
    """results.json without what changes on every run of the same numbers."""
    report = {
        k: v
        for k, v in data.get("report", {}).items()
        if k not in ("generated_at", "reportkit_version")
    }
    return {**data, "report": report}


def _carry_over(
    final: Path, staging: Path, result: ReportResult, wanted: Sequence[str]
) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    """The earlier report's files that this run did not rebuild (a rerun with `--format md`
    after one with every format): copied into `staging` when the earlier report holds the same
    numbers, else left out and named. Returns (kept, removed, the formats the folder now has)."""
    from reportkit.render import FORMATS, normalize_formats

    try:
        earlier = Manifest.from_dict(json.loads((final / MANIFEST_FILE).read_text("utf-8")))
        same = _numbers(json.loads((final / RESULTS_FILE).read_text("utf-8"))) == _numbers(
            results_to_dict(result)
        )
    except (OSError, ValueError, KeyError, TypeError, AttributeError, RecursionError):
        return (), (), tuple(wanted)
    kept: list[str] = []
    removed: list[str] = []
    for entry in earlier.files:
        source = final / entry.path
        target = staging / entry.path
        if target.exists() or entry.path in (RESULTS_FILE, MANIFEST_FILE):
            continue
        if not source.is_file() or source.is_symlink() or ".." in Path(entry.path).parts:
            continue
        if same:
            target.parent.mkdir(parents=True, exist_ok=True)
            write_atomic(target, source.read_bytes())
            kept.append(entry.path)
        else:
            removed.append(entry.path)
    formats = tuple(wanted)
    if same:
        formats = normalize_formats([*wanted, *(f for f in earlier.formats if f in FORMATS)])
    return tuple(kept), tuple(removed), formats


# ---------------------------------------------------------------------------- results.json


def write_rendered(folder: Path, files: dict[str, bytes]) -> list[Path]:
    """Write what `render_report` returned into `folder`, each file atomically."""
    written = []
    for name, data in files.items():
        target = Path(folder) / name
        target.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(target, data)
        written.append(target)
    return written


def save_results(result: ReportResult, path: Path) -> None:
    from reportkit.render import results_bytes

    write_atomic(Path(path), results_bytes(result))


def load_results(path: Path) -> ReportResult:
    path = Path(path)
    try:
        data = json.loads(path.read_text("utf-8"))
        return results_from_dict(data)
    except RenderError:
        raise
    except OSError as exc:
        raise RenderError(f"could not read {path}: {exc.strerror or exc}") from exc
    except RecursionError:
        # json's decoder recurses once per level: `[[[[...]]]]` 100,000 deep
        raise RenderError(
            f"{path} is not a reportkit results.json: it is nested too deeply"
        ) from None
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise RenderError(f"{path} is not a reportkit results.json: {exc!r}") from exc

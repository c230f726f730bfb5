"""The public API: every exported name resolves, and importing the package loads none of it."""

from __future__ import annotations

import subprocess
import sys

import reportkit


def test_every_exported_name_resolves_to_its_home() -> None:
    for name in reportkit.__all__:
        value = getattr(reportkit, name)
        if name != "__version__":
            assert value.__module__.startswith("reportkit."), name


def test_an_unknown_name_is_an_attribute_error() -> None:
    try:
        reportkit.no_such_thing  # type: ignore[attr-defined]  # noqa: B018
    except AttributeError as exc:
        assert "no_such_thing" in str(exc)
    else:
        raise AssertionError("reportkit.no_such_thing resolved")


def test_import_reportkit_loads_no_stage() -> None:
    code = (
        "import sys, reportkit; print(sorted(m for m in sys.modules if m.startswith('reportkit.')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"

"""reportkit: declarative, YAML-driven reports over CleverTap-style event analytics."""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]

"""The library behind every `reportkit` command: one function per command, the same call a
Python user makes. The CLI only parses arguments, prints and maps errors to exit codes.

    validate  -> validate_paths        plan     -> plan_path
    catalog   -> source_catalog
    run       -> run_paths (+ deliver_outcomes with --deliver)
    send      -> send_folders          render   -> rerender_folder, rebuild_from_pdf
    emulate   -> serving_emulator      demo     -> reportkit.sources.demo.build_demo
    preview   -> serving_preview
    import    -> reportkit.store.importer.import_events
    export    -> export_path
    diff      -> diff_revisions

One module per part: `running` (run), `delivery` (send, run --deliver), `commands` (the
commands that are one call each) and `diff`.
"""

from __future__ import annotations

from reportkit.app.commands import (
    export_path,
    plan_path,
    rebuild_from_pdf,
    rerender_folder,
    serving_emulator,
    serving_preview,
    source_catalog,
    validate_paths,
)
from reportkit.app.delivery import (
    DeliverOptions,
    DeliveryOutcome,
    check_delivery,
    check_delivery_paths,
    deliver_folder_channels,
    deliver_outcomes,
    send_folders,
    smtp_config,
)
from reportkit.app.diff import DiffOptions, diff_revisions
from reportkit.app.running import RunOptions, in_shard, run_and_deliver, run_paths, select_shard

__all__ = [
    "DeliverOptions",
    "DeliveryOutcome",
    "DiffOptions",
    "RunOptions",
    "check_delivery",
    "check_delivery_paths",
    "deliver_folder_channels",
    "deliver_outcomes",
    "diff_revisions",
    "export_path",
    "in_shard",
    "plan_path",
    "rebuild_from_pdf",
    "rerender_folder",
    "run_and_deliver",
    "run_paths",
    "select_shard",
    "send_folders",
    "serving_emulator",
    "serving_preview",
    "smtp_config",
    "source_catalog",
    "validate_paths",
]

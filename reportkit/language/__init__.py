"""The report language: YAML read safely, checked against the JSON Schema, turned into typed
definitions, and date windows resolved on an as-of day.

    yamldoc.py   YAML text -> plain data with a location for every value (no tags, no bombs)
    spec.py      data -> a validated `Report`, every problem as FILE:LINE:COLUMN: path: message
    model.py     the frozen dataclasses of a definition (Report, Query, Group, WindowSpec ...)
    windows.py   a WindowSpec and an as-of day -> a DateRange; previous periods

Pure: no network, no DuckDB, no Jinja, no clock (the as-of day is passed in).
"""

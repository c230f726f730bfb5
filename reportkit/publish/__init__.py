"""Publishing: the only code that writes report folders.

    folders.py   out/<report>/<window end>/ with results.json, the rendered files, manifest.json
    staging.py   build a folder in a hidden sibling and swap it into place under a lock
    files.py     one file written atomically (temp file, fsync, rename)

Rendering hands publishing bytes; publishing owns the disk.
"""

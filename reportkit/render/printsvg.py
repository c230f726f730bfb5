"""A chart's SVG made lighter for WeasyPrint, drawing the same picture.

WeasyPrint draws an SVG node by node in Python: each node is cascaded (every attribute of its
parent copied in), transformed and filled or stroked on its own, and each letter of a text is laid
out on its own. Vega's SVG carries much that draws nothing on paper: wrapper groups,
`aria-*`/`role`/`class` attributes, background paths with neither fill nor stroke,
`display="none"` foregrounds, axis labels hidden with `opacity="0"` (where they would overlap),
one `<line>` (with its own transform) per tick and gridline. `lean_svg` removes what draws nothing
and merges runs of like lines into one path.

The HTML report keeps Vega's SVG as it is: its `role` and `aria-label`s are for screen readers
there, and in the PDF the chart is one `/Figure` whose `/Alt` comes from the `<img>` alt text.
"""

from __future__ import annotations

import re
from xml.etree import ElementTree

SVG_NS = "http://www.w3.org/2000/svg"
XLINK_NS = "http://www.w3.org/1999/xlink"
_SVG = f"{{{SVG_NS}}}"

# Attributes that only describe (for assistive technology and the browser's events and CSS
# classes): no SVG renderer draws them.
_INERT_ATTRIBUTES = ("class", "role", "pointer-events")
_TEXT_CONTENT = frozenset(("text", "tspan", "textPath"))
_SHAPES = frozenset(("path", "line", "rect", "circle", "ellipse", "polyline", "polygon"))
# Inside these, shapes are geometry (a clip) or drawn by reference: their paint is not ours.
_KEEP_INSIDE = frozenset(("defs", "clipPath", "mask", "pattern", "marker", "symbol"))
_TRANSLATE = re.compile(r"\s*translate\(\s*([-+0-9.eE]+)(?:[\s,]+([-+0-9.eE]+))?\s*\)\s*")
# Line attributes that may differ between lines merged into one path (all else must match).
_LINE_GEOMETRY = frozenset(("x1", "y1", "x2", "y2", "transform"))


def lean_svg(svg: str) -> str:
    """`svg` without what draws nothing, runs of like `<line>`s as one `<path>`. Returned
    unchanged when it holds CSS (a `<style>` or `style=` could select on what is removed) or
    cannot be read."""
    try:
        root = ElementTree.fromstring(svg)
    except ElementTree.ParseError:
        return svg
    for element in root.iter():
        if _local(element.tag) == "style" or "style" in element.attrib:
            return svg
    for name in [n for n in root.attrib if n in _INERT_ATTRIBUTES or n.startswith("aria-")]:
        del root.attrib[name]
    _lean(root, fill="black", stroke="none", painted=True)
    ElementTree.register_namespace("", SVG_NS)
    ElementTree.register_namespace("xlink", XLINK_NS)
    return ElementTree.tostring(root, encoding="unicode")


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _lean(element: ElementTree.Element, *, fill: str, stroke: str, painted: bool) -> None:
    """Clean `element`'s children in place; `fill` and `stroke` are the inherited paint,
    `painted` whether shapes here are painted (not clip geometry)."""
    children: list[ElementTree.Element] = []
    for child in list(element):
        tag = _local(child.tag)
        attrib = child.attrib
        for name in [n for n in attrib if n in _INERT_ATTRIBUTES or n.startswith("aria-")]:
            del attrib[name]
        if attrib.get("display") == "none" or (painted and _transparent(attrib)):
            continue
        if tag in _TEXT_CONTENT:  # its runs and their spacing are the text: left as they are
            children.append(child)
            continue
        if attrib.get("opacity") == "1":
            del attrib["opacity"]
        if _TRANSLATE.fullmatch(attrib.get("transform", "x")) and _translation(child) == (0, 0):
            del attrib["transform"]
        child_fill = attrib.get("fill", fill)
        child_stroke = attrib.get("stroke", stroke)
        if tag in _SHAPES and painted and not _draws(child, child_fill, child_stroke):
            continue
        _lean(
            child,
            fill=child_fill,
            stroke=child_stroke,
            painted=painted and tag not in _KEEP_INSIDE,
        )
        if tag == "g" and not attrib:
            children.extend(child)  # a group that passes nothing on: its children in its place
        elif tag == "g" and len(child) == 0 and child.text is None:
            continue  # an empty group draws nothing (ids live on clipPath, not on these)
        else:
            children.append(child)
    element[:] = _merge_lines(children)


def _transparent(attrib: dict[str, str]) -> bool:
    """Opacity 0: Vega hides the axis labels that would overlap so."""
    try:
        return float(attrib.get("opacity", "1")) <= 0
    except ValueError:
        return False


def _draws(shape: ElementTree.Element, fill: str, stroke: str) -> bool:
    if any(name.startswith("marker") for name in shape.attrib):
        return True
    tag = _local(shape.tag)
    if tag == "path" and not shape.attrib.get("d", "").strip():
        return False
    if tag == "line":  # a line has no inside to fill
        return stroke != "none"
    return fill != "none" or stroke != "none"


def _translation(element: ElementTree.Element) -> tuple[float, float] | None:
    transform = element.attrib.get("transform")
    if transform is None:
        return (0.0, 0.0)
    match = _TRANSLATE.fullmatch(transform)
    if match is None:
        return None
    return float(match.group(1)), float(match.group(2) or 0)


def _merge_lines(children: list[ElementTree.Element]) -> list[ElementTree.Element]:
    """Runs of sibling `<line>`s that differ only in position become one `<path>`: the same
    strokes, drawn in one operation. Lines with opacity below 1 stay apart (where they cross,
    one path would not darken twice), and dashed ones (where a dash pattern restarts is left to
    each line)."""
    merged: list[ElementTree.Element] = []
    run: list[ElementTree.Element] = []

    def flush() -> None:
        if len(run) > 1:
            merged.append(_as_path(run))
        else:
            merged.extend(run)
        run.clear()

    for child in children:
        if _mergeable(child) and (not run or _paint(run[0]) == _paint(child)):
            run.append(child)
            continue
        flush()
        if _mergeable(child):
            run.append(child)
        else:
            merged.append(child)
    flush()
    return merged


def _mergeable(element: ElementTree.Element) -> bool:
    if _local(element.tag) != "line" or len(element) or _translation(element) is None:
        return False
    attrib = element.attrib
    return all(
        attrib.get(name, "1") in ("1", "1.0") for name in ("opacity", "stroke-opacity")
    ) and not any(name.startswith(("marker", "stroke-dash")) or name == "id" for name in attrib)


def _paint(line: ElementTree.Element) -> dict[str, str]:
    return {k: v for k, v in line.attrib.items() if k not in _LINE_GEOMETRY}


def _as_path(lines: list[ElementTree.Element]) -> ElementTree.Element:
    parts = []
    for line in lines:
        translation = _translation(line)
        assert translation is not None  # checked by _mergeable
        dx, dy = translation
        x1, y1, x2, y2 = (float(line.attrib.get(k, 0)) for k in ("x1", "y1", "x2", "y2"))
        parts.append(f"M{_num(x1 + dx)},{_num(y1 + dy)}L{_num(x2 + dx)},{_num(y2 + dy)}")
    path = ElementTree.Element(f"{_SVG}path", _paint(lines[0]))
    path.set("fill", "none")  # a line is never filled; a path would inherit a fill
    path.set("d", "".join(parts))
    return path


def _num(value: float) -> str:
    text = f"{value:.4f}".rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text

#!/usr/bin/env python3
"""Every Swift example a reader sees is code that the build compiles.

The examples live in Snippets/ (SwiftPM snippets: `swift build` compiles each one, so `make build` and `make test`
fail on a broken one) and, for lines of a dependent's manifest, in Examples/Dependent/Package.swift (evaluated by
`swift package dump-package`). This script finds every ```swift block in README.md, CONTRIBUTING.md, CHANGELOG.md,
Docs/*.md, the DocC articles (Sources/*/*.docc) and the doc comments of Sources/, and fails unless each block's
lines appear, in order and together, in the visible part of one of those files (what lies between
`// snippet.hide` and `// snippet.show` is scaffolding a reader does not see). Lines are compared without their
indentation and a trailing comma, blank lines aside.

Usage: scripts/check-examples.py [ROOT]    (exit status 1 and a list of the blocks not found)
"""

import pathlib
import re
import sys

ROOT = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else pathlib.Path(__file__).resolve().parent.parent)
FENCE = re.compile(r"^\s*(```+|~~~+)\s*(\S*)")
MARKER = re.compile(r"^\s*// snippet\.([A-Za-z0-9_-]+)\s*$")


def normalized(lines):
    """The lines without indentation, trailing space or a trailing comma (a manifest's line quoted alone), blank ones
    dropped."""
    return [line.strip().removesuffix(",") for line in lines if line.strip()]


def visible_lines(path):
    """What a reader of the snippet sees: no hidden scaffolding, no marker lines."""
    shown, hidden = [], False
    for line in path.read_text(encoding="utf-8").splitlines():
        marker = MARKER.match(line)
        if marker:
            if marker.group(1) == "hide":
                hidden = True
            elif marker.group(1) == "show":
                hidden = False
            continue  # a slice's start (`// snippet.name`) or end (`// snippet.end`) is not code either
        if not hidden:
            shown.append(line)
    return normalized(shown)


def sources():
    files = sorted((ROOT / "Snippets").rglob("*.swift"))
    files.append(ROOT / "Examples" / "Dependent" / "Package.swift")
    return {path: visible_lines(path) for path in files if path.exists()}


def swift_blocks(lines):
    """(first line number, block lines) of each ```swift block in `lines` (numbered from 1)."""
    blocks, current, start, fence = [], None, 0, None
    for number, line in enumerate(lines, 1):
        match = FENCE.match(line)
        if current is None:
            if match:
                fence = match.group(1)
                current = [] if match.group(2).lower() == "swift" else False
                start = number + 1
        elif match and match.group(1).startswith(fence[0]) and not match.group(2):
            if current is not False:
                blocks.append((start, current))
            current = None
        elif current is not False:
            current.append(line)
    return blocks


def documents():
    """(path, lines) of every text a reader sees examples in; doc comments without their `///`."""
    texts = [ROOT / "README.md", ROOT / "CONTRIBUTING.md", ROOT / "CHANGELOG.md", *sorted((ROOT / "Docs").glob("*.md"))]
    for path in texts:
        if path.exists():
            yield path, path.read_text(encoding="utf-8").splitlines()
    for path in sorted((ROOT / "Sources").rglob("*.docc/**/*.md")):
        yield path, path.read_text(encoding="utf-8").splitlines()
    for path in sorted((ROOT / "Sources").rglob("*.swift")):
        # Keep the line numbers: a line that is not a doc comment becomes an empty line, which ends no block.
        lines = []
        for line in path.read_text(encoding="utf-8").splitlines():
            stripped = line.lstrip()
            if stripped.startswith("///"):
                lines.append(stripped[4:] if stripped.startswith("/// ") else stripped[3:])
            else:
                lines.append("")
        yield path, lines


def contains(haystack, needle):
    if not needle:
        return True
    first = needle[0]
    for index, line in enumerate(haystack):
        if line == first and haystack[index : index + len(needle)] == needle:
            return True
    return False


def main():
    known = sources()
    if not known:
        print("check-examples: no snippets found", file=sys.stderr)
        return 1
    missing, checked = [], 0
    for path, lines in documents():
        for start, block in swift_blocks(lines):
            checked += 1
            wanted = normalized(block)
            if not any(contains(shown, wanted) for shown in known.values()):
                missing.append((path.relative_to(ROOT), start, wanted[0] if wanted else "(empty)"))
    for path, line, first in missing:
        print(f"{path}:{line}: this Swift example is in no snippet (Snippets/) or example manifest: {first}",
              file=sys.stderr)
    print(f"check-examples: {checked - len(missing)} of {checked} Swift examples are compiled snippets")
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Sizes of src/: files over 600 lines of non-test code and functions over
100 lines. Run: python3 scripts/sizes.py  (exit 1 when one is over)."""
import re
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent / "src"
FILE_MAX, FN_MAX = 600, 100


def non_test(text):
    """The text without `#[cfg(test)] mod … { … }` blocks."""
    out, i = [], 0
    for m in re.finditer(r"#\[cfg\(test\)\]\s*(pub(\(crate\))?\s+)?mod\s+\w+\s*(;|\{)", text):
        if m.start() < i:
            continue
        out.append(text[i:m.start()])
        if m.group(3) == ";":
            i = m.end()
            continue
        depth, j = 1, m.end()
        while j < len(text) and depth:
            depth += {"{": 1, "}": -1}.get(text[j], 0)
            j += 1
        i = j
    out.append(text[i:])
    return "".join(out)


def functions(text):
    """(name, first line, line count) of each fn with a body."""
    lines = text.split("\n")
    for n, line in enumerate(lines):
        m = re.match(r"\s*(pub(\([^)]*\))?\s+)?(const\s+)?(async\s+)?(unsafe\s+)?fn\s+(\w+)", line)
        if not m:
            continue
        depth, started = 0, False
        for k in range(n, len(lines)):
            s = re.sub(r'"(\\.|[^"\\])*"', '""', lines[k])
            s = re.sub(r"'(\\.|[^'\\])'", "''", s)
            s = s.split("//")[0]
            if not started and ";" in s and "{" not in s:
                break
            depth += s.count("{") - s.count("}")
            started = started or "{" in s
            if started and depth <= 0:
                yield m.group(6), n + 1, k - n + 1
                break


def main():
    bad = 0
    for path in sorted(SRC.rglob("*.rs")):
        rel = path.relative_to(SRC)
        if path.stem == "tests" or "tests" in rel.parts[:-1]:
            continue
        code = non_test(path.read_text())
        count = sum(1 for l in code.split("\n") if l.strip())
        if count > FILE_MAX:
            print(f"{rel}: {count} lines of non-test code (over {FILE_MAX})")
            bad += 1
        for name, line, length in functions(code):
            if length > FN_MAX:
                print(f"{rel}:{line}: fn {name} is {length} lines (over {FN_MAX})")
                bad += 1
    if bad:
        return 1
    print(f"every file within {FILE_MAX} lines of non-test code, every function within {FN_MAX}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

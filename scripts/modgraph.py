#!/usr/bin/env python3
"""Import graph of src/: finds loops between sibling modules and faces that
import faces. Run: python3 scripts/modgraph.py  (exit 1 when it finds one).

Every `crate::a::b` path (in `use` lines and inline) and every `super::` path
in a file is an edge from that file's module to the named module. An edge is
compared at the level where the two paths part: `engine::conn` naming
`engine::proc::X` is the edge conn -> proc inside `engine`. A child naming its
parent (or the parent its child) is not a sibling edge and is not counted.
"""
import re
import sys
from collections import defaultdict
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent / "src"
# Modules that are faces: none may name another.
FACES = ["ui", "headless", "control::cli"]


def module_of(path: Path) -> list[str]:
    rel = path.relative_to(SRC).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] in ("mod", "lib", "main"):
        parts = parts[:-1]
    return parts


def strip_tests(text: str) -> str:
    """Drops `#[cfg(test)] mod tests { ... }` blocks (tests may name anything)."""
    out, i = [], 0
    for m in re.finditer(r"#\[cfg\(test\)\]\s*(pub(\(crate\))?\s+)?mod\s+\w+\s*\{", text):
        if m.start() < i:
            continue
        out.append(text[i:m.start()])
        depth, j = 1, m.end()
        while j < len(text) and depth:
            depth += {"{": 1, "}": -1}.get(text[j], 0)
            j += 1
        i = j
    out.append(text[i:])
    return "".join(out)


def expand_use_groups(text: str) -> str:
    """`use crate::a::{b, c::d}` -> mentions of crate::a::b and crate::a::c::d."""
    extra = []
    for m in re.finditer(r"\b(crate|super(?:::super)*)((?:::\w+)*)::\{([^;]*?)\};", text, re.S):
        base = m.group(1) + m.group(2)
        for item in re.split(r",", m.group(3)):
            item = item.strip().split(" as ")[0].strip()
            item = re.sub(r"\{.*", "", item, flags=re.S).strip(": ")
            if item and item != "self":
                extra.append(f"{base}::{item}")
            elif item == "self":
                extra.append(base)
    return text + "\n" + "\n".join(extra)


def mentions(path: Path, me: list[str]):
    text = expand_use_groups(strip_tests(path.read_text()))
    # `crate::` paths and `super::` paths, resolved to absolute module paths.
    for m in re.finditer(r"\b((?:super::)+|crate::)((?:\w+::)*\w+)", text):
        head, tail = m.group(1), m.group(2).split("::")
        if head == "crate::":
            base = []
        else:
            ups = head.count("super")
            # A mod.rs file is its directory's module: super goes one above it.
            is_mod = path.name in ("mod.rs",)
            anchor = me if is_mod else me
            base = anchor[: len(anchor) - ups]
        yield base + tail


def known_modules():
    mods = set()
    for p in SRC.rglob("*.rs"):
        mods.add(tuple(module_of(p)))
    return mods


def main() -> int:
    mods = known_modules()
    edges = defaultdict(set)  # (parent, a, b): where
    face_hits = []
    for path in sorted(SRC.rglob("*.rs")):
        me = module_of(path)
        if path.parent.name == "tests" or path.stem == "tests" or me and me[-1] == "tests":
            continue
        if "main" == path.stem:
            continue
        for target in mentions(path, me):
            # The longest prefix of target that is a module file.
            t = list(target)
            while t and tuple(t) not in mods:
                t.pop()
            if not t:
                continue
            k = 0
            while k < min(len(me), len(t)) and me[k] == t[k]:
                k += 1
            if k == len(me) or k == len(t):
                continue  # same module, parent or child
            a, b = me[k], t[k]
            edges[(tuple(me[:k]), a, b)].add(str(path.relative_to(SRC)))
            for fa in FACES:
                for fb in FACES:
                    fa_p, fb_p = fa.split("::"), fb.split("::")
                    if fa != fb and me[: len(fa_p)] == fa_p and t[: len(fb_p)] == fb_p:
                        face_hits.append(f"{path.relative_to(SRC)} names {'::'.join(t)} (face {fa} -> face {fb})")
    graph = defaultdict(lambda: defaultdict(set))
    for (parent, a, b), where in edges.items():
        graph[parent][a].add(b)
    loops = []
    for parent, g in graph.items():
        # Strongly connected components (Tarjan).
        index, low, stack, on, comps, n = {}, {}, [], set(), [], [0]

        def visit(v):
            index[v] = low[v] = n[0]
            n[0] += 1
            stack.append(v)
            on.add(v)
            for w in g.get(v, ()):
                if w not in index:
                    visit(w)
                    low[v] = min(low[v], low[w])
                elif w in on:
                    low[v] = min(low[v], index[w])
            if low[v] == index[v]:
                comp = []
                while True:
                    w = stack.pop()
                    on.discard(w)
                    comp.append(w)
                    if w == v:
                        break
                if len(comp) > 1:
                    comps.append(sorted(comp))

        for v in list(g):
            if v not in index:
                visit(v)
        for comp in comps:
            scope = "::".join(parent) or "crate"
            lines = [f"loop in {scope}: {' <-> '.join(comp)}"]
            for a in comp:
                for b in comp:
                    if b in g.get(a, ()):
                        lines.append(f"    {a} -> {b}: {', '.join(sorted(edges[(parent, a, b)]))}")
            loops.append("\n".join(lines))
    for line in loops + face_hits:
        print(line)
    if loops or face_hits:
        return 1
    print("no import loops; no face names another face")
    return 0


if __name__ == "__main__":
    sys.exit(main())

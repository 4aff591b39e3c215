#!/usr/bin/env python3
"""check-cycles.py - fail on an import cycle between modules or a layer the code reaches past.

Reads the C sources of proto/, storage/, server/, client-lib/ and tools/ (tests and benchmarks
may use any part and are not read). A module is a .c file and the .h of the same name beside it.
Module A depends on module B when a file of A includes B's header (quoted includes, resolved to
files) or when A's .c uses a function or variable that only B's .c defines with external
linkage: a call needs no include of its own when a shared header declares it, so both count.

Two checks, each listing everything it finds:
  cycles  every set of modules that depend on each other in a loop (strongly connected
          components), with the edges and the names that tie them;
  layers  the dependency direction of docs/ARCHITECTURE.md: proto/ depends on no other part,
          its case model (sk_record, sk_case, sk_model) not on the message layer (sk_msg) nor
          on anything that reaches it; storage/ only on proto/; server/ and client-lib/ not on
          tools/ nor on each other, and client-lib/ on nothing of storage/ but the key file; the
          offline tools not on server/ (they use storage/). Reach counts, not only direct edges, so a detour through a
          third module is found too.

Usage: scripts/check-cycles.py [--root DIR] [--graph]
Exit status: 0 clean, 1 a cycle or a layer violation (listed on stdout), 2 usage.
"""
import argparse
import os
import re
import sys

PARTS = ("proto", "storage", "server", "client-lib", "tools")

# (module path prefix, forbidden module path prefix, why[, allowed prefixes]). Prefixes are
# matched against module paths relative to the root without extension (e.g. "proto/sk_case");
# a module under an allowed prefix is not forbidden.
RULES = [
    ("proto/", "storage/", "proto/ is the bottom layer"),
    ("proto/", "server/", "proto/ is the bottom layer"),
    ("proto/", "client-lib/", "proto/ is the bottom layer"),
    ("proto/", "tools/", "proto/ is the bottom layer"),
    ("proto/sk_record", "proto/sk_msg", "the case model must not depend on the message layer"),
    ("proto/sk_case", "proto/sk_msg", "the case model must not depend on the message layer"),
    ("proto/sk_model", "proto/sk_msg", "the case model must not depend on the message layer"),
    ("storage/", "server/", "storage/ sits below the server"),
    ("storage/", "client-lib/", "storage/ is the server's store, not the device's"),
    ("storage/", "tools/", "storage/ sits below the tools"),
    ("server/", "client-lib/", "server and client library meet only in the protocol"),
    ("server/", "tools/", "the server does not depend on the tools"),
    ("client-lib/", "server/", "server and client library meet only in the protocol"),
    ("client-lib/", "storage/", "the client library has its own store; it shares the key file",
     ("storage/sk_keyring",)),
    ("client-lib/", "tools/", "the client library does not depend on the tools"),
    ("tools/admin/", "server/", "sakhi-admin works through storage/, not the server core"),
    ("tools/load/", "server/", "sakhi-load prepares data through storage/, not the server core"),
    ("tools/dump/", "server/", "sakhi-dump reads frames, not the server"),
    ("tools/cli/", "server/", "sakhi is a libsakhi app"),
    ("tools/cli/", "storage/", "sakhi is a libsakhi app", ("storage/sk_keyring",)),
]

KEYWORDS = {
    "if", "for", "while", "switch", "return", "sizeof", "do", "else", "case", "goto", "break",
    "continue", "default", "typedef", "struct", "union", "enum", "static", "extern", "const",
    "volatile", "inline", "register", "restrict", "signed", "unsigned", "void", "char", "short",
    "int", "long", "float", "double", "_Bool", "bool", "main", "_Alignof", "_Static_assert",
}

IDENT = re.compile(r"[A-Za-z_]\w*")
INCLUDE = re.compile(r'^\s*#\s*include\s*"([^"]+)"', re.M)


def strip_c(text):
    """Remove comments, string and character literals (kept as empty quotes) and preprocessor
    lines, keeping newlines so that brace depth stays right."""
    out = []
    i, n = 0, len(text)
    line_start = True
    while i < n:
        c = text[i]
        if line_start and c in " \t":
            out.append(c)
            i += 1
            continue
        if line_start and c == "#":
            # a preprocessor line, with its continuations
            while i < n and text[i] != "\n":
                if text[i] == "\\" and i + 1 < n and text[i + 1] == "\n":
                    i += 2
                    out.append("\n")
                    continue
                i += 1
            continue
        line_start = False
        if text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append("\n" * text.count("\n", i, j))
            i = j
            continue
        if text.startswith("//", i):
            while i < n and text[i] != "\n":
                i += 1
            continue
        if c in "\"'":
            j = i + 1
            while j < n and text[j] != c:
                j += 2 if text[j] == "\\" else 1
            out.append(c + c)
            i = j + 1
            continue
        if c == "\n":
            line_start = True
        out.append(c)
        i += 1
    return "".join(out)


def definitions(code):
    """Names a translation unit defines at file scope: (external, static) sets."""
    ext, local = set(), set()
    depth = 0
    stmt = []
    i, n = 0, len(code)
    while i < n:
        c = code[i]
        if depth > 0:
            if c == "{":
                depth += 1
            elif c == "}":
                depth -= 1
            i += 1
            continue
        if c == ";" or c == "{":
            s = " ".join("".join(stmt).split())
            stmt = []
            is_static = re.match(r"^(static|extern|typedef)\b", s) is not None
            if c == "{":
                depth = 1
                head = s.split("=", 1)[0]
                if "=" in s or re.match(r"^(struct|union|enum)\b[^(]*$", s):
                    # an initialised variable (or a type); its name is the last identifier
                    # before the '=' (or nothing for a bare type)
                    if "=" in s and not s.startswith("typedef"):
                        names = IDENT.findall(re.sub(r"\[[^\]]*\]", "", head))
                        if names:
                            (local if is_static else ext).add(names[-1])
                elif "(" in s:
                    m = re.search(r"([A-Za-z_]\w*)\s*\((?!\s*\*)", s)
                    if m and m.group(1) not in KEYWORDS:
                        (local if re.match(r"^static\b", s) else ext).add(m.group(1))
            else:
                if s and "(" not in s.split("=", 1)[0] and not is_static:
                    head = s.split("=", 1)[0]
                    if not re.match(r"^(struct|union|enum)\s+\w+$", head.strip()):
                        names = IDENT.findall(re.sub(r"\[[^\]]*\]", "", head))
                        if len(names) >= 2:
                            ext.add(names[-1])
                elif s and re.match(r"^static\b", s):
                    names = IDENT.findall(re.sub(r"\[[^\]]*\]|\(.*", "", s.split("=", 1)[0]))
                    if names:
                        local.add(names[-1])
            i += 1
            continue
        stmt.append(c)
        i += 1
    ext.discard("main")
    return ext - KEYWORDS, local


def module_of(rel):
    return os.path.splitext(rel)[0]


def collect(root):
    files = []
    for part in PARTS:
        base = os.path.join(root, part)
        if not os.path.isdir(base):
            continue
        for dp, dns, fns in os.walk(base):
            dns[:] = sorted(d for d in dns if not d.startswith("."))
            for fn in sorted(fns):
                if fn.endswith((".c", ".h")):
                    files.append(os.path.relpath(os.path.join(dp, fn), root))
    return files


def resolve(inc, rel, by_tail):
    """The file a quoted include names: beside the includer first, else the one file whose
    path ends with the include's path (several: the nearest by shared folder prefix)."""
    here = os.path.normpath(os.path.join(os.path.dirname(rel), inc))
    cands = by_tail.get(os.path.basename(inc), [])
    if here in cands:
        return here
    cands = [f for f in cands if f == inc or f.endswith("/" + inc)]
    if not cands:
        return None

    def shared(f):
        a, b = f.split("/"), rel.split("/")
        k = 0
        while k < min(len(a), len(b)) and a[k] == b[k]:
            k += 1
        return k

    return max(cands, key=shared)


def build_graph(root):
    files = collect(root)
    by_tail = {}
    for f in files:
        by_tail.setdefault(os.path.basename(f), []).append(f)
    edges = {}  # (a, b) -> set of reasons

    def add(a, b, why):
        if a != b:
            edges.setdefault((a, b), set()).add(why)

    code = {}
    defs_ext, defs_local = {}, {}
    for f in files:
        with open(os.path.join(root, f), encoding="utf-8", errors="replace") as fh:
            text = fh.read()
        for inc in INCLUDE.findall(text):
            tgt = resolve(inc, f, by_tail)
            if tgt:
                add(module_of(f), module_of(tgt), "#include \"%s\"" % inc)
        if f.endswith(".c"):
            code[f] = strip_c(text)
            defs_ext[f], defs_local[f] = definitions(code[f])
    owner = {}
    for f, names in defs_ext.items():
        for name in names:
            owner.setdefault(name, set()).add(f)
    for f, text in code.items():
        own = defs_ext[f] | defs_local[f]
        for name in set(IDENT.findall(text)) - own:
            where = owner.get(name)
            if where and len(where) == 1:
                (tgt,) = where
                add(module_of(f), module_of(tgt), name)
    modules = sorted({module_of(f) for f in files})
    return modules, edges


def sccs(modules, edges):
    succ = {m: [] for m in modules}
    for a, b in edges:
        succ[a].append(b)
    index, low, on, stack, out = {}, {}, set(), [], []
    counter = [0]
    sys.setrecursionlimit(10000)

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in succ[v]:
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
                out.append(sorted(comp))

    for m in modules:
        if m not in index:
            visit(m)
    return sorted(out)


def path_to(src, pred, modules, edges):
    """Shortest dependency path from src to a module for which pred holds, or None."""
    succ = {m: [] for m in modules}
    for a, b in sorted(edges):
        succ[a].append(b)
    prev = {src: None}
    queue = [src]
    while queue:
        nxt = []
        for v in queue:
            for w in succ[v]:
                if w in prev:
                    continue
                prev[w] = v
                if pred(w):
                    path = [w]
                    while prev[path[-1]] is not None:
                        path.append(prev[path[-1]])
                    return path[::-1]
                nxt.append(w)
        queue = nxt
    return None


def why(edges, a, b):
    r = sorted(edges[(a, b)])
    return ", ".join(r[:6]) + (", ..." if len(r) > 6 else "")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--root", default=os.path.join(os.path.dirname(__file__), ".."))
    ap.add_argument("--graph", action="store_true", help="print every dependency edge")
    args = ap.parse_args()
    root = os.path.abspath(args.root)
    modules, edges = build_graph(root)
    if args.graph:
        for a, b in sorted(edges):
            print("%s -> %s: %s" % (a, b, why(edges, a, b)))
    bad = 0
    comps = sccs(modules, edges)
    for n, comp in enumerate(comps, 1):
        print("cycle %d: %s" % (n, " ".join(comp)))
        for a in comp:
            for b in comp:
                if (a, b) in edges:
                    print("  %s -> %s: %s" % (a, b, why(edges, a, b)))
    bad += len(comps)
    layer = 0
    for rule in RULES:
        src_prefix, dst_prefix, reason = rule[:3]
        allowed = rule[3] if len(rule) > 3 else ()

        def forbidden(w):
            return w.startswith(dst_prefix) and not any(w.startswith(a) for a in allowed)

        for m in modules:
            if not m.startswith(src_prefix):
                continue
            p = path_to(m, forbidden, modules, edges)
            if p:
                layer += 1
                print("layer: %s reaches %s (%s)" % (m, p[-1], reason))
                for a, b in zip(p, p[1:]):
                    print("  %s -> %s: %s" % (a, b, why(edges, a, b)))
    bad += layer
    print("check-cycles: %d modules, %d dependencies, %d cycles, %d layer violations"
          % (len(modules), len(edges), len(comps), layer))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""abi-versioned.py BASELINE.abi CURRENT.abi: the growth rule for versioned structs.

abi-check.sh lets abidiff ignore members appended to a versioned struct (libabigail's
has_data_member_inserted_at = end), but libabigail 2.2 applies that suppression when at least one
inserted member is at the end, so a member inserted in the middle of the same struct would slip
through with it. This check closes the gap: for every struct of the baseline whose first member is
`version` (and sakhi_progress, which the library owns), the baseline's members must be an exact
prefix of the current struct's members: same names, same offsets, same types, same order.
Prints each violation; exits 1 if there is one.
"""
import sys
import xml.etree.ElementTree as ET

LIBRARY_OWNED = {"sakhi_progress"}


def load(path):
    root = ET.parse(path).getroot()
    types = {}
    for el in root.iter():
        tid = el.get("id")
        if tid:
            types[tid] = el
    return root, types


def type_sig(types, tid, depth=0):
    el = types.get(tid)
    if el is None or depth > 16:
        return tid or "?"
    tag = el.tag
    if tag == "pointer-type-def":
        return type_sig(types, el.get("type-id"), depth + 1) + "*"
    if tag == "qualified-type-def":
        q = "const " if el.get("const") == "yes" else ""
        q += "volatile " if el.get("volatile") == "yes" else ""
        return q + type_sig(types, el.get("type-id"), depth + 1)
    if tag == "array-type-def":
        return "%s[%s bits]" % (type_sig(types, el.get("element-type-id"), depth + 1),
                                el.get("size-in-bits"))
    if tag == "typedef-decl":
        return el.get("name")
    if tag in ("class-decl", "union-decl", "enum-decl", "type-decl"):
        return "%s %s" % (tag.split("-")[0], el.get("name"))
    if tag == "function-type":
        return "fn"
    return tag


def members(types, cls):
    out = []
    for dm in cls.findall("data-member"):
        var = dm.find("var-decl")
        out.append((var.get("name"), dm.get("layout-offset-in-bits"),
                    type_sig(types, var.get("type-id"))))
    return out


def structs(root):
    found = {}
    for cls in root.iter("class-decl"):
        name = cls.get("name")
        if name and name.startswith("sakhi_") and cls.get("is-declaration-only") != "yes":
            found[name] = cls
    return found


def main():
    base_root, base_types = load(sys.argv[1])
    cur_root, cur_types = load(sys.argv[2])
    base = structs(base_root)
    cur = structs(cur_root)
    bad = 0
    for name, cls in sorted(base.items()):
        bm = members(base_types, cls)
        if not bm or (bm[0][0] != "version" and name not in LIBRARY_OWNED):
            continue
        if name not in cur:
            print("abi-versioned: struct %s is gone" % name)
            bad = 1
            continue
        cm = members(cur_types, cur[name])
        if cm[:len(bm)] != bm:
            print("abi-versioned: struct %s: the old members are no longer a prefix" % name)
            for i, m in enumerate(bm):
                now = cm[i] if i < len(cm) else None
                if now != m:
                    print("  member %d was %s at bit %s (%s), now %s" % (i, m[0], m[1], m[2], now))
                    break
            bad = 1
    return bad


if __name__ == "__main__":
    sys.exit(main())

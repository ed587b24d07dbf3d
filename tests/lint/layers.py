#!/usr/bin/env python3
"""The dependency order of lib/'s families (docs/hacking.md, "Layout").

Each family may include the public headers of the families listed for it
and its own; an #include that climbs the order (kube including a runtime
header, the operator's pure parts including the client) is a failure, named
by file and line.  A public header belongs to the family whose folder holds
the .c of the same stem (op_*.h: lib/operator).  Private headers
(*_private.h) are included only from their own folder.  Nothing in lib/
or include/dpm/ includes cmd/, operator/, webhook/ or tests/.

Prints "ok NAME" / "FAIL NAME: reason" lines and "N passed, N failed".
"""
import os
import re
import sys

ALLOWED = {
    "util": [],
    "format": ["util"],
    "policy": ["util"],
    "contract": ["util", "policy"],
    "kube": ["util", "format"],
    "runtime": ["util", "format", "kube"],
    "admission": ["util", "format", "policy", "contract", "kube", "runtime"],
    # the operator's pure parts: objects in, objects out, no client
    "operator": ["util", "format", "policy", "contract"],
}
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"')


def main(root):
    os.chdir(root)
    failures = []
    passed = 0
    families = sorted(d for d in os.listdir("lib") if os.path.isdir(os.path.join("lib", d)))
    for fam in families:
        if fam not in ALLOWED:
            failures.append(("families", f"lib/{fam}/ is not a family of docs/hacking.md (add it to tests/lint/layers.py with its place in the order)"))
    header_family = {}
    for fam in families:
        for f in os.listdir(os.path.join("lib", fam)):
            if f.endswith(".c"):
                header_family[f[:-2] + ".h"] = fam
    for h in os.listdir("include/dpm"):
        if h.startswith("op_"):
            header_family[h] = "operator"
    unowned = [h for h in sorted(os.listdir("include/dpm")) if h not in header_family]
    for h in unowned:
        failures.append(("headers", f"include/dpm/{h}: no lib/<family>/{h[:-2]}.c, so no family owns it"))
    if not unowned:
        passed += 1

    def check(path, fam):
        nonlocal passed
        bad = []
        with open(path, encoding="utf-8") as fh:
            for n, line in enumerate(fh, 1):
                m = INCLUDE.match(line)
                if not m:
                    continue
                inc = m.group(1)
                if inc.startswith("dpm/"):
                    h = inc[4:]
                    hf = header_family.get(h)
                    if hf is None:
                        bad.append(f"{path}:{n}: includes {inc}, which no family owns")
                    elif hf != fam and hf not in ALLOWED[fam]:
                        bad.append(f"{path}:{n}: {fam} includes {inc} of {hf}, which comes after it "
                                   f"({fam} may include: {', '.join(ALLOWED[fam]) or 'nothing but itself'})")
                elif "/" in inc or not os.path.exists(os.path.join(os.path.dirname(path), inc)):
                    bad.append(f"{path}:{n}: includes \"{inc}\", not a public dpm/ header nor a private one beside it")
        if bad:
            failures.append((path, "; ".join(bad)))
        else:
            passed += 1

    for fam in families:
        if fam not in ALLOWED:
            continue
        d = os.path.join("lib", fam)
        for f in sorted(os.listdir(d)):
            if f.endswith((".c", ".h")):
                check(os.path.join(d, f), fam)
    for h in sorted(os.listdir("include/dpm")):
        if h in header_family and header_family[h] in ALLOWED:
            check(os.path.join("include/dpm", h), header_family[h])

    for name, why in failures:
        print(f"FAIL {name}: {why}")
    print(f"ok layers ({passed} files follow the order)" if not failures else "", end="\n" if not failures else "")
    print(f"{1 if not failures else 0} passed, {len(failures)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "."))

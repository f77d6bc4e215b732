#!/usr/bin/env python3
"""The RFC 7208 test suite (YAML, several documents) as one JSON array on stdout, each
scenario's zonedata already in the form test_spf_suite.cpp loads into its in-memory zone:

  {"description": ..., "tests": {name: {host, mailfrom, helo, result: [..], explanation?}},
   "zone": {name: {"TXT": [...], "A": [...], "AAAA": [...], "MX": [[pref, name]],
                   "PTR": [...], "CNAME": [...], "timeout": bool}}}

The suite's own conventions (see its header and the "Record lookup" scenario):
- type SPF (99) is gone in RFC 7208; a name's SPF records stand for its TXT records
  when it has none, and {"TXT": "NONE"} says it has none even then;
- a record given as a list of strings is one record of several character-strings;
- "TIMEOUT" makes every question about the name that has no answer time out.
"""
import json
import sys

import yaml


def strings(value):
    return "".join(value) if isinstance(value, list) else str(value)


def zone_of(zonedata):
    zone = {}
    for raw_name, records in (zonedata or {}).items():
        name = str(raw_name).lower().rstrip(".")
        node = {"TXT": [], "SPF": [], "A": [], "AAAA": [], "MX": [], "PTR": [], "CNAME": [], "timeout": False}
        no_txt = False
        for record in records:
            if record == "TIMEOUT":
                node["timeout"] = True
                continue
            for rtype, value in record.items():
                if rtype == "TXT" and value == "NONE":
                    no_txt = True
                elif rtype in ("TXT", "SPF"):
                    node[rtype].append(strings(value))
                elif rtype == "MX":
                    node["MX"].append([int(value[0]), str(value[1]).lower().rstrip(".")])
                else:
                    node[rtype].append(str(value))
        if not node["TXT"] and not no_txt:
            node["TXT"] = node["SPF"]
        del node["SPF"]
        zone[name] = node
    return zone


def main():
    with open(sys.argv[1], encoding="utf-8") as f:
        documents = list(yaml.safe_load_all(f))
    out = []
    for doc in documents:
        tests = {}
        for name, t in doc["tests"].items():
            result = t["result"]
            tests[name] = {
                "host": str(t["host"]),
                "mailfrom": str(t.get("mailfrom", "")),
                "helo": str(t.get("helo", "")),
                "result": result if isinstance(result, list) else [result],
                **({"explanation": str(t["explanation"])} if "explanation" in t else {}),
            }
        out.append({"description": doc["description"], "tests": tests, "zone": zone_of(doc.get("zonedata"))})
    json.dump(out, sys.stdout, ensure_ascii=False)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Prints the metric names that Prometheus rule files and Grafana dashboards
query, one "<where>\t<name>" line each.

  promql_names.py FILE...   (*.yml/*.yaml: rule files; *.json: dashboards)

Names recorded by a rule in the given rule files are resolved (not printed);
everything else an expression selects is printed, Prometheus's own `up`
included. Exits 1 if a file has no expression at all, so a renamed field
cannot make the check pass vacuously.
"""
import json
import re
import sys

import yaml

KEYWORDS = {
    "and", "or", "unless", "offset", "bool", "by", "without", "on",
    "ignoring", "group_left", "group_right", "inf", "nan", "atan2",
}
GROUPING = re.compile(
    r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
TOKEN = re.compile(r"\d[\w.]*|[A-Za-z_:][\w:]*")


def names_in(expr):
    """Metric names selected by a PromQL expression (a small lexer, enough
    for the expressions in this repository: no subquery-only syntax)."""
    expr = re.sub(r"\$\{[^}]*\}|\$\w+", "x", expr)   # Grafana variables
    expr = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)    # strings
    expr = re.sub(r"'(?:[^'\\]|\\.)*'", "''", expr)
    expr = re.sub(r"\{[^}]*\}", " ", expr)             # label matchers
    expr = re.sub(r"\[[^\]]*\]", " ", expr)            # ranges
    expr = GROUPING.sub(" ", expr)
    found = []
    for m in TOKEN.finditer(expr):
        tok = m.group(0)
        if tok[0].isdigit() or tok.lower() in KEYWORDS:
            continue
        if re.match(r"\s*\(", expr[m.end():]):         # a function call
            continue
        found.append(tok)
    return found


def rule_exprs(path):
    with open(path) as f:
        doc = yaml.safe_load(f)
    recorded, exprs = set(), []
    for group in doc.get("groups", []):
        for rule in group.get("rules", []):
            name = rule.get("alert") or rule.get("record")
            if "record" in rule:
                recorded.add(rule["record"])
            exprs.append((f"{path}: rule {name}", rule["expr"]))
    return recorded, exprs


def dashboard_exprs(path):
    with open(path) as f:
        doc = json.load(f)
    exprs = []

    def walk_panels(panels):
        for p in panels:
            for t in p.get("targets", []):
                if "expr" in t:
                    exprs.append((f"{path}: panel \"{p['title']}\"", t["expr"]))
            walk_panels(p.get("panels", []))

    walk_panels(doc.get("panels", []))
    for var in doc.get("templating", {}).get("list", []):
        if var.get("type") != "query":
            continue
        q = var.get("query")
        q = q.get("query", "") if isinstance(q, dict) else (q or "")
        m = re.fullmatch(r"\s*label_values\(\s*(.*),\s*\w+\s*\)\s*", q)
        exprs.append((f"{path}: variable {var['name']}", m.group(1) if m else q))
    return exprs


def main(paths):
    recorded, exprs = set(), []
    for path in paths:
        if path.endswith(".json"):
            found = dashboard_exprs(path)
        else:
            rec, found = rule_exprs(path)
            recorded |= rec
        if not found:
            print(f"{path}: no expressions found", file=sys.stderr)
            return 1
        exprs += found
    for where, expr in exprs:
        for name in names_in(expr):
            if name not in recorded:
                print(f"{where}\t{name}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

#!/usr/bin/env python3
"""Recompute the annual report's sting-unit section and operation rows from a ledger
export, without any of icac-ledger's code, and compare them with the report.

    recompute_sting.py EXPORT.jsonl REPORT.json

EXPORT.jsonl is `icac-ledger export` (one ledger record per line after the bundle
header); REPORT.json is `icac-ledger report annual --format json`. The rules, from
docs/DOMAIN.md ("Operations from the ledger") and projections/src/report/sting_unit.rs:

* an operation's linked cases are the cases with a LinkedToOperation event naming it
  (cases linked to an operation the ledger does not hold are left out);
* for each quarter from the unit's creation to the report's last day: operations whose
  conduct started in it; linked cases first moved to "investigating" in it (the
  Connecticut date of that StatusChanged); arrests in linked cases dated in it (an
  arrest-date correction applies); referrals dated in it; prosecution outcomes decided
  in it, by kind;
* operation rows (figures.operations.operations): cases_opened and arrests from the
  linked cases, whatever the conclusion said.

Exits 0 when every figure matches, 1 with each difference otherwise.
"""
import json
import sys
from datetime import date, datetime
from zoneinfo import ZoneInfo

CT = ZoneInfo("America/New_York")


def ct_date(ts):
    return datetime.fromisoformat(ts.replace("Z", "+00:00")).astimezone(CT).date()


def quarter(d):
    return (d.year, (d.month - 1) // 3 + 1)


def load(path, position=None):
    """The operations and cases of the export, up to `position` (all when None)."""
    ops, cases = {}, {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            rec = json.loads(line)
            if "icac_ledger_bundle" in rec or "aggregate_type" not in rec:
                continue
            if position is not None and int(rec["position"]) > position:
                break
            kind, ident, (etype, body) = rec["aggregate_type"], rec["aggregate_id"], next(iter(rec["payload"].items()))
            if kind == "operation":
                o = ops.setdefault(ident, {"started": None, "concluded": None, "planned": None})
                if etype == "OperationPlanned":
                    o["planned"] = date.fromisoformat(body["planned_start"])
                elif etype == "OperationConducted":
                    o["started"] = date.fromisoformat(body["started_on"])
                elif etype == "OperationConcluded":
                    o["concluded"] = date.fromisoformat(body["concluded_on"])
            elif kind == "case":
                c = cases.setdefault(ident, {"ops": [], "investigating": None, "arrests": {}, "referrals": [], "outcomes": []})
                if etype == "LinkedToOperation":
                    c["ops"].append(body["operation_id"])
                elif etype == "StatusChanged" and body["to"] == "investigating" and c["investigating"] is None:
                    c["investigating"] = ct_date(body["recorded_at"])
                elif etype == "ArrestRecorded":
                    c["arrests"][body["arrest_number"]] = date.fromisoformat(body["arrested_on"])
                elif etype == "ReferralRecorded":
                    c["referrals"].append(date.fromisoformat(body["referred_on"]))
                elif etype == "ProsecutionOutcomeRecorded":
                    c["outcomes"].append((body["outcome"], date.fromisoformat(body["decided_on"])))
                elif etype == "CorrectionRecorded":
                    for ch in body["changes"]:
                        if ch["field"] == "arrest_date" and ch["arrest_number"] in c["arrests"]:
                            c["arrests"][ch["arrest_number"]] = date.fromisoformat(ch["arrested_on"])
    return ops, cases


def expected(ops, cases, created, through):
    keys = []
    y, q = quarter(created)
    while (y, q) <= quarter(through):
        keys.append((y, q))
        y, q = (y + 1, 1) if q == 4 else (y, q + 1)
    rows = {k: dict(operations_conducted=0, cases_opened=0, arrests=0, referrals=0,
                    charges_filed=0, convictions=0, dismissals=0, nolles=0) for k in keys}

    def bump(d, field):
        if created <= d <= through and quarter(d) in rows:
            rows[quarter(d)][field] += 1

    for o in ops.values():
        if o["started"]:
            bump(o["started"], "operations_conducted")
    linked = [c for c in cases.values() if any(op in ops for op in c["ops"])]
    kinds = {"charges_filed": "charges_filed", "convicted": "convictions", "dismissed": "dismissals", "nolle": "nolles"}
    for c in linked:
        if c["investigating"]:
            bump(c["investigating"], "cases_opened")
        for d in c["arrests"].values():
            bump(d, "arrests")
        for d in c["referrals"]:
            bump(d, "referrals")
        for kind, d in c["outcomes"]:
            bump(d, kinds[kind])
    per_op = {}
    for ident in ops:
        mine = [c for c in cases.values() if ident in c["ops"]]
        per_op[ident] = (sum(1 for c in mine if c["investigating"]), sum(len(c["arrests"]) for c in mine))
    return rows, per_op


def main():
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    ops, cases = load(sys.argv[1])
    with open(sys.argv[2], encoding="utf-8") as f:
        report = json.load(f)
    section = report["sting_unit"]
    created, through = date.fromisoformat(section["created_on"]), date.fromisoformat(section["through"])
    rows, per_op = expected(ops, cases, created, through)
    problems = []
    stated = {(q["year"], q["quarter"]): q for q in section["quarters"]}
    if set(stated) != set(rows):
        problems.append(f"quarters: stated {sorted(stated)}, recomputed {sorted(rows)}")
    for k, want in rows.items():
        got = stated.get(k, {})
        for field, n in want.items():
            if got.get(field) != n:
                problems.append(f"{k[0]} Q{k[1]} {field}: stated {got.get(field)}, recomputed {n}")
    for field in rows[next(iter(rows))]:
        total = sum(r[field] for r in rows.values())
        if section["totals"][field] != total:
            problems.append(f"totals {field}: stated {section['totals'][field]}, recomputed {total}")
    for row in report["figures"]["operations"]["operations"]:
        want = per_op.get(row["operation_id"])
        if want != (row["cases_opened"], row["arrests"]):
            problems.append(f"operation {row['operation_id']}: stated {(row['cases_opened'], row['arrests'])}, recomputed {want}")
    if (section.get("recommendation") is None) != section["published_without_recommendation"]:
        problems.append("published_without_recommendation does not match the recommendation")
    for p in problems:
        print(p)
    print(f"{len(rows)} quarters, {len(ops)} operations, {len(problems)} difference(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

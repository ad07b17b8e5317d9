#!/usr/bin/env python3
"""Recompute every published table of the annual report from a ledger export
bundle alone, without any of icac-ledger's code, and compare it with the report
cell by cell.

    recompute_report.py EXPORT.jsonl REPORT.json

EXPORT.jsonl is `icac-ledger export` (a bundle: docs/LEDGER_FORMAT.md section 9;
it holds commitments, never personal values, and needs none); REPORT.json is
`icac-ledger report annual --format json` (a draft or a release). Only the
events up to the report's `attestation.position` are read, so the bundle may be
longer than the report.

The rules are those the report prints among its `definitions` and those of
docs/REPORT_AUTHORS.md ("Recomputing the figures from an export"), which spells
out how the figures follow from the events (docs/DOMAIN.md for the events).
The sting-unit section and the operation rows are checked by
recompute_sting.py beside this script (the same rules, reused here).

Victim figures: a shown figure must equal the recomputed count; a figure the
report shows as suppressed is compared as suppressed: its recomputed count
must not be 0 (zeros are shown), and every recomputed count from 1 to the
threshold must be suppressed. Which larger figures are hidden is the
optimiser's choice and is not recomputed here.

Only the default deadline policy (14 calendar days, no rolling to business days)
is recomputed; a report made with another exits 2.

Exits 0 when every figure matches, 1 listing each difference otherwise.
"""
import json
import os
import sys
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import recompute_sting  # noqa: E402

CT = ZoneInfo("America/New_York")
BANDS = ["age_0_to_12", "age_13_to_15", "age_16_to_17", "unknown"]
SUPPRESSED = "suppressed"


def ct_date(ts):
    """The Connecticut calendar date of an RFC 3339 UTC timestamp."""
    return datetime.fromisoformat(ts.replace("Z", "+00:00")).astimezone(CT).date()


def day(text):
    return date.fromisoformat(text)


class Case:
    def __init__(self, case_id):
        self.case_id = case_id
        self.unit = None
        self.received_on = None
        self.source = None
        self.by_complaint = False
        self.notified_at = None
        self.form = None  # incident_type, medium, sextortion, ai
        self.urgent = False
        self.linked = []  # recorded_at of duplicate notifications linked to it
        self.merged_into = None
        self.merged_at = None
        self.status_log = []  # (to, disposition, recorded_at)
        self.arrests = {}  # number -> {"on": date, "charges": [(statute, counts)]}
        self.referrals = {}  # number -> {"target", "on", "decision"}
        self.operations = []
        self.shares = []  # (way, category, to_units, recorded_at)
        self.victims = []  # {"number", "band", "identified_on", "counted_on"}


def open_case(case, etype, body):
    """The opening event: a complaint or a notification; anything else is no case."""
    if etype == "ComplaintLogged":
        case.unit, case.received_on = body["reporting_unit"], day(body["received_on"])
        case.source, case.by_complaint = body["source"]["kind"], True
        return True
    if etype == "NotificationFiled":
        return True
    return False


def file_form(case, body):
    form = body["form"]
    case.unit, case.received_on = form["reporting_unit"], day(form["received"]["date"])
    case.source = form["source"]["kind"]
    case.urgent = case.urgent or form.get("urgent", False)
    case.notified_at = body["recorded_at"]
    inc = form["incident"]
    case.form = {
        "incident_type": inc["type"],
        "medium": form["medium"],
        "sextortion": inc.get("sextortion", False),
        "ai": inc.get("ai_generated_material", False),
    }
    filed_on = ct_date(body["recorded_at"])
    listed = ([form["victim"]] if form.get("victim") else []) + form.get("victims", [])
    case.victims = []
    for n, v in enumerate(listed, start=1):
        on = day(v["identified_on"]) if v.get("identified_on") else None
        case.victims.append({
            "number": n,
            "band": v["age_band"],
            "identified_on": on,
            # A version 1 form asked no date: a child it reported identified
            # counts on the filing date.
            "counted_on": (on or filed_on) if v.get("identified") else None,
        })
    case.status_log.append(("received", None, body["recorded_at"]))


def correct(case, change):
    """A correction: the newest value wins; the victim fields name child 1."""
    field = change["field"]
    if field == "received_on":
        case.received_on = day(change["date"])
    elif field == "incident_type" and case.form:
        case.form["incident_type"] = change["incident_type"]
    elif field == "medium" and case.form:
        case.form["medium"] = change["medium"]
    elif field == "victim_age_band" and case.victims:
        case.victims[0]["band"] = change["age_band"]
    elif field == "victim_identified" and case.victims:
        v = case.victims[0]
        filed_on = ct_date(case.notified_at) if case.notified_at else None
        v["counted_on"] = (v["identified_on"] or filed_on) if change["identified"] else None
    elif field == "arrest_date" and change["arrest_number"] in case.arrests:
        case.arrests[change["arrest_number"]]["on"] = day(change["arrested_on"])
    elif field == "arrest_charges" and change["arrest_number"] in case.arrests:
        case.arrests[change["arrest_number"]]["charges"] = [
            (c["statute"], c["counts"]) for c in change["charges"]]


def apply_case(case, etype, body):
    if etype == "ComplaintLogged":
        open_case(case, etype, body)
    elif etype == "NotificationFiled":
        file_form(case, body)
    elif etype == "DuplicateNotificationLinked":
        case.urgent = case.urgent or body["form"].get("urgent", False)
        case.linked.append(body["recorded_at"])
    elif etype == "CaseMerged":
        case.merged_into, case.merged_at = body["primary_case_id"], body["recorded_at"]
        case.status_log.append(("closed", "duplicate", body["recorded_at"]))
    elif etype == "InformationShared":
        direction = body["direction"]  # {"direction": ..., "to_units" | "from_unit": ...}
        way = direction["direction"]
        to = direction.get("to_units", []) if way == "task_force_to_units" else []
        case.shares.append((way, body["category"], to, body["recorded_at"]))
    elif etype == "StatusChanged":
        case.status_log.append((body["to"], body.get("disposition"), body["recorded_at"]))
    elif etype == "ArrestRecorded":
        case.arrests[body["arrest_number"]] = {
            "on": day(body["arrested_on"]),
            "charges": [(c["statute"], c["counts"]) for c in body["charges"]],
        }
    elif etype == "ReferralRecorded":
        case.referrals[body["referral_number"]] = {
            "target": body["target"], "on": day(body["referred_on"]), "decision": None}
    elif etype == "ReferralDecided" and body["referral_number"] in case.referrals:
        case.referrals[body["referral_number"]]["decision"] = body["decision"]
    elif etype == "LinkedToOperation":
        case.operations.append(body["operation_id"])
    elif etype == "UrgentFlagSet":
        case.urgent = True
    elif etype == "CorrectionRecorded":
        for change in body["changes"]:
            correct(case, change)
    elif etype == "VictimAdded":
        on = day(body["identified_on"]) if body.get("identified_on") else None
        case.victims.append({"number": body["victim_number"], "band": body["age_band"],
                             "identified_on": on, "counted_on": on})
    elif etype == "VictimIdentified":
        for v in case.victims:
            if v["number"] == body["victim_number"]:
                v["identified_on"] = v["counted_on"] = day(body["identified_on"])


def load(path, position):
    """Folds the bundle's events up to `position` into cases, operations,
    public reports and units."""
    cases, ops, reports, units = {}, {}, {}, {}
    last = 0
    with open(path, encoding="utf-8") as f:
        for line in f:
            rec = json.loads(line)
            if "aggregate_type" not in rec:
                continue  # the header and the trailer
            if int(rec["position"]) > position:
                break
            last = int(rec["position"])
            kind, ident = rec["aggregate_type"], rec["aggregate_id"]
            if kind not in ("case", "operation", "public_report", "unit"):
                continue  # key events, releases, CyberTip claims, tips: no figure
            (etype, body), = rec["payload"].items()
            if kind == "case":
                if ident not in cases:
                    case = Case(ident)
                    if not open_case(case, etype, body):
                        continue  # a stream that does not open a case is no case
                    cases[ident] = case
                apply_case(cases[ident], etype, body)
            elif kind == "operation":
                o = ops.get(ident)
                if etype == "OperationPlanned" and o is None:
                    ops[ident] = {"name": body["name"], "lead_unit": body["lead_unit"],
                                  "started_on": None, "ended_on": None, "concluded_on": None}
                elif o is None:
                    continue
                elif etype == "OperationConducted":
                    o["started_on"], o["ended_on"] = day(body["started_on"]), day(body["ended_on"])
                elif etype == "OperationConcluded":
                    o["concluded_on"] = day(body["concluded_on"])
            elif kind == "public_report":
                if etype == "PublicReportReceived" and ident not in reports:
                    reports[ident] = {"channel": body["channel"], "received_at": body["recorded_at"],
                                      "stage": "received"}
                elif ident in reports:
                    stage = {"PublicReportTriaged": "triaged", "PublicReportRouted": "routed",
                             "PublicReportClosed": "closed"}.get(etype)
                    if stage:
                        reports[ident]["stage"] = stage
            elif kind == "unit":
                if etype == "UnitRegistered" and ident not in units:
                    units[ident] = {"name": body["name"], "active": True}
                elif ident in units and etype == "UnitRenamed":
                    units[ident]["name"] = body["name"]
                elif ident in units and etype == "UnitDeactivated":
                    units[ident]["active"] = False
    if last != position:
        raise SystemExit(f"the bundle ends at position {last}, the report is at {position}")
    return cases, ops, reports, units


def percent(part, whole):
    """Tenths of a percent, rounded half up, as the report prints it."""
    if whole == 0:
        return None
    t = (part * 2000 + whole) // (2 * whole)
    return f"{t // 10}.{t % 10}"


def median(days):
    if not days:
        return None
    days = sorted(days)
    mid = len(days) // 2
    t = days[mid] * 10 if len(days) % 2 else (days[mid - 1] + days[mid]) * 5
    return f"{t // 10}.{t % 10}"


def count(items):
    out = {}
    for k in items:
        out[k] = out.get(k, 0) + 1
    return out


def months(start, end):
    out, y, m = [], start.year, start.month
    while date(y, m, 1) <= end:
        out.append(f"{y:04}-{m:02}")
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


def notifications(cases, units, inp):
    filed = [c for c in cases.values() if c.notified_at and inp(ct_date(c.notified_at))]
    by_month = {m: 0 for m in months(inp.start, inp.end)}
    for c in filed:
        d = ct_date(c.notified_at)
        by_month[f"{d.year:04}-{d.month:02}"] += 1
    tips = [c for c in filed if c.source == "ncmec_cybertip"]
    with_form = [c for c in filed if c.form]
    return {
        "total": len(filed),
        "by_source": count((c.source for c in filed)),
        "by_incident_type": count((c.form["incident_type"] for c in with_form)),
        "by_medium": count((c.form["medium"] for c in with_form)),
        "by_unit": count((c.unit for c in filed)),
        "by_unit_labels": {c.unit: units.get(c.unit, {}).get("name", c.unit) for c in filed},
        "duplicates_linked": sum(1 for c in cases.values() for t in c.linked if inp(ct_date(t))),
        "cybertips_urgent": sum(1 for c in tips if c.urgent),
        "cybertips_other": sum(1 for c in tips if not c.urgent),
        "sextortion": sum(1 for c in with_form if c.form["sextortion"]),
        "ai_generated_material": sum(1 for c in with_form if c.form["ai"]),
        "by_month": by_month,
    }


def assess(case, as_of):
    """The 14-day clock on `as_of`: received + 14 calendar days; a form filed
    after `as_of` counts as not filed; a merged duplicate's clock stops on the
    merge date."""
    due = case.received_on + timedelta(days=14)
    stamp = case.notified_at or case.merged_at
    filed = ct_date(stamp) if stamp else None
    if filed is not None and filed > as_of:
        filed = None
    if filed is not None:
        status = "on_time" if filed <= due else "late"
    else:
        status = "overdue" if as_of > due else "not_yet_due"
    return status, filed, case.by_complaint and filed is None


def timeliness(cases, units, inp):
    t = {k: 0 for k in ["received", "on_time", "late", "overdue", "not_yet_due", "incomplete_form"]}
    per_unit, days = {}, []
    for c in cases.values():
        if not inp(c.received_on):
            continue
        status, filed, incomplete = assess(c, inp.end)
        u = per_unit.setdefault(c.unit, {k: 0 for k in
                                         ["received", "on_time", "late", "overdue", "not_yet_due"]})
        for row in (t, u):
            row["received"] += 1
            row[status] += 1
        t["incomplete_form"] += int(incomplete)
        if filed is not None:
            days.append(max(0, (filed - c.received_on).days))
    t["due"] = t["on_time"] + t["late"] + t["overdue"]
    t["percent_within_14_days"] = percent(t["on_time"], t["on_time"] + t["late"])
    t["percent_on_time_of_due"] = percent(t["on_time"], t["due"])
    t["median_days_to_notify"] = median(days)
    for ori, u in per_unit.items():
        u["name"] = units.get(ori, {}).get("name", ori)
    t["by_unit"] = per_unit
    return t


def investigations(cases, inp):
    out = {"opened": 0, "reactive": 0, "proactive": 0}
    for c in cases.values():
        first = next((s for s in c.status_log if s[0] == "investigating"), None)
        if first and inp(ct_date(first[2])):
            out["opened"] += 1
            proactive = c.source == "proactive_undercover" or bool(c.operations)
            out["proactive" if proactive else "reactive"] += 1
    return out


def operations(cases, ops, inp):
    rows = {}
    for ident, o in ops.items():
        if not ((o["started_on"] and inp(o["started_on"])) or
                (o["concluded_on"] and inp(o["concluded_on"]))):
            continue
        mine = [c for c in cases.values() if ident in c.operations]
        rows[ident] = {
            "name": o["name"], "lead_unit": o["lead_unit"],
            "started_on": o["started_on"] and o["started_on"].isoformat(),
            "ended_on": o["ended_on"] and o["ended_on"].isoformat(),
            "linked_cases": sum(c.operations.count(ident) for c in mine),
            "cases_opened": sum(1 for c in mine if any(s[0] == "investigating" for s in c.status_log)),
            "arrests": sum(len(c.arrests) for c in mine),
        }
    totals = {k: sum(r[k] for r in rows.values()) for k in ["linked_cases", "cases_opened", "arrests"]}
    totals["conducted"] = len(rows)
    return totals, rows


def arrests(cases, inp):
    charges, n, with_arrest = {}, 0, 0
    for c in cases.values():
        mine = [a for a in c.arrests.values() if inp(a["on"])]
        n += len(mine)
        with_arrest += int(bool(mine))
        for a in mine:
            seen = set()
            for statute, counts in a["charges"]:
                row = charges.setdefault(statute, [0, 0])
                if statute not in seen:
                    seen.add(statute)
                    row[0] += 1
                row[1] += counts
    return {"arrests": n, "cases_with_arrest": with_arrest}, charges


def referrals(cases, inp):
    rows = {}
    for c in cases.values():
        for r in c.referrals.values():
            if not inp(r["on"]):
                continue
            row = rows.setdefault(r["target"], {"referred": 0, "accepted": 0, "declined": 0, "undecided": 0})
            row["referred"] += 1
            row[r["decision"] or "undecided"] += 1
    return rows


def outcomes(cases, inp):
    out = {}
    for c in cases.values():
        for to, disposition, at in c.status_log:
            if to == "closed" and disposition and disposition != "arrest" and inp(ct_date(at)):
                out[disposition] = out.get(disposition, 0) + 1
    return out


def shares(cases, inp):
    out = {"unit_to_task_force": 0, "task_force_to_units": 0, "technical_assistance": 0,
           "forensic_results": 0}
    reached, by_category = set(), {}
    for c in cases.values():
        for way, category, to, at in c.shares:
            if not inp(ct_date(at)):
                continue
            out[way] += 1
            if way == "task_force_to_units":
                reached.update(to)
                if category in ("technical_assistance", "forensic_results"):
                    out[category] += 1
            by_category[category] = by_category.get(category, 0) + 1
    out["unit_recipients"] = len(reached)
    return out, by_category


def quarter_of(d):
    return f"{d.year:04}-Q{(d.month - 1) // 3 + 1}"


def victims(cases, inp):
    """Children identified in the period: each once, in the quarter identified;
    a merged duplicate's children are the primary case's."""
    grid = {}
    for c in cases.values():
        if c.merged_into is not None:
            continue
        for v in c.victims:
            if v["counted_on"] and inp(v["counted_on"]):
                key = (v["band"], quarter_of(v["counted_on"]))
                grid[key] = grid.get(key, 0) + 1
    return grid


def public_reports(reports, inp):
    rows = {}
    for r in reports.values():
        if not inp(ct_date(r["received_at"])):
            continue
        row = rows.setdefault(r["channel"], {"received": 0, "routed": 0, "closed": 0, "open": 0})
        row["received"] += 1
        row[r["stage"] if r["stage"] in ("routed", "closed") else "open"] += 1
    return rows


class Period:
    def __init__(self, start, end):
        self.start, self.end = start, end

    def __call__(self, d):
        return self.start <= d <= self.end


class Compare:
    def __init__(self):
        self.problems, self.cells = [], 0

    def eq(self, where, stated, want):
        self.cells += 1
        if stated != want:
            self.problems.append(f"{where}: stated {stated!r}, recomputed {want!r}")

    def rows(self, where, stated_rows, key, fields, want):
        """Rows keyed by `key`: the same keys, each field equal."""
        stated = {r[key]: r for r in stated_rows}
        self.eq(f"{where} keys", sorted(stated), sorted(want))
        for k, w in want.items():
            for f in fields:
                self.eq(f"{where}[{k}].{f}", stated.get(k, {}).get(f), w[f] if isinstance(w, dict) else w)

    def victim(self, where, stated, want, threshold):
        self.cells += 1
        if stated == SUPPRESSED:
            if want == 0:
                self.problems.append(f"{where}: suppressed, but recomputed 0 (zeros are shown)")
        elif stated != want:
            self.problems.append(f"{where}: stated {stated!r}, recomputed {want!r}")
        elif 1 <= want <= threshold:
            self.problems.append(f"{where}: shows {want}, from 1 to the threshold {threshold}")


def check_victims(cmp, table, grid, threshold):
    labels = {"0-12": "age_0_to_12", "13-15": "age_13_to_15", "16-17": "age_16_to_17",
              "age not recorded": "unknown"}
    rows = [labels.get(r, r) for r in table["rows"]]
    cmp.eq("victims_identified.rows", rows, BANDS)
    cols = table["columns"]
    value = lambda b, q: grid.get((b, q), 0)  # noqa: E731
    for r, band in enumerate(rows):
        for c, q in enumerate(cols):
            cmp.victim(f"victims_identified[{q}, {band}]", table["cells"][r][c], value(band, q), threshold)
        cmp.victim(f"victims_identified[all quarters, {band}]", table["row_totals"][r],
                   sum(value(band, q) for q in cols), threshold)
    for c, q in enumerate(cols):
        cmp.victim(f"victims_identified[{q}, all ages]", table["column_totals"][c],
                   sum(value(b, q) for b in rows), threshold)
    cmp.victim("victims_identified[total]", table["total"], sum(grid.values()), threshold)
    outside = {k: n for k, n in grid.items() if k[1] not in cols or k[0] not in rows}
    cmp.eq("victims_identified: children outside the table", outside, {})


def quarters(start, end):
    out, d = [], start
    while d <= end:
        q = quarter_of(d)
        if not out or out[-1] != q:
            out.append(q)
        d += timedelta(days=1)
    return out


def compare(report, cases, ops, reports, units):
    p = report["parameters"]
    inp = Period(day(p["from"]), day(p["to"]))
    f, cmp = report["figures"], Compare()

    n, sn = notifications(cases, units, inp), f["notifications"]
    for k in ["total", "duplicates_linked", "cybertips_urgent", "cybertips_other", "sextortion",
              "ai_generated_material"]:
        cmp.eq(f"notifications.{k}", sn[k], n[k])
    for k in ["by_source", "by_incident_type", "by_medium", "by_unit", "by_month"]:
        cmp.rows(f"notifications.{k}", sn[k], "key", ["count"], {key: {"count": v} for key, v in n[k].items()})
    for r in sn["by_unit"]:
        cmp.eq(f"notifications.by_unit[{r['key']}].label", r["label"], n["by_unit_labels"].get(r["key"]))

    t, st = timeliness(cases, units, inp), f["timeliness"]
    for k in ["received", "on_time", "late", "overdue", "not_yet_due", "incomplete_form", "due",
              "percent_within_14_days", "percent_on_time_of_due", "median_days_to_notify"]:
        cmp.eq(f"timeliness.{k}", st.get(k), t[k])
    cmp.rows("timeliness.by_unit", st["by_unit"], "unit",
             ["name", "received", "on_time", "late", "overdue", "not_yet_due"], t["by_unit"])

    for k, v in investigations(cases, inp).items():
        cmp.eq(f"investigations.{k}", f["investigations"][k], v)

    totals, rows = operations(cases, ops, inp)
    for k, v in totals.items():
        cmp.eq(f"operations.{k}", f["operations"][k], v)
    cmp.rows("operations.operations", f["operations"]["operations"], "operation_id",
             ["name", "lead_unit", "started_on", "ended_on", "linked_cases", "cases_opened", "arrests"], rows)

    a, charges = arrests(cases, inp)
    for k, v in a.items():
        cmp.eq(f"arrests.{k}", f["arrests"][k], v)
    cmp.rows("arrests.charges", f["arrests"]["charges"], "statute", ["arrests", "counts"],
             {s: {"arrests": v[0], "counts": v[1]} for s, v in charges.items()})

    cmp.rows("referrals", f["referrals"], "target", ["referred", "accepted", "declined", "undecided"],
             referrals(cases, inp))
    cmp.rows("outcomes_without_arrest", f["outcomes_without_arrest"], "key", ["count"],
             {k: {"count": v} for k, v in outcomes(cases, inp).items()})

    s, by_category = shares(cases, inp)
    for k, v in s.items():
        cmp.eq(f"information_shares.{k}", f["information_shares"][k], v)
    cmp.rows("information_shares.by_category", f["information_shares"]["by_category"], "key", ["count"],
             {k: {"count": v} for k, v in by_category.items()})

    cmp.eq("victims_identified.columns", f["victims_identified"]["columns"], quarters(inp.start, inp.end))
    check_victims(cmp, f["victims_identified"], victims(cases, inp), p["suppression_threshold"])

    cmp.rows("public_reports", f["public_reports"], "channel", ["received", "routed", "closed", "open"],
             public_reports(reports, inp))
    cmp.eq("units.registered_active", f["units"]["registered_active"],
           sum(1 for u in units.values() if u["active"]))
    cmp.eq("units.filing_in_period", f["units"]["filing_in_period"], len(n["by_unit"]))
    return cmp


def sting_section(path, report, cmp):
    """The sting-unit section, by recompute_sting.py's rules over the same events."""
    section = report.get("sting_unit")
    if section is None:
        cmp.problems.append("sting_unit: the section is missing")
        return
    ops, cases = recompute_sting.load(path, report["attestation"]["position"])
    created, through = day(section["created_on"]), day(section["through"])
    rows, _ = recompute_sting.expected(ops, cases, created, through)
    stated = {(q["year"], q["quarter"]): q for q in section["quarters"]}
    cmp.eq("sting_unit.quarters", sorted(stated), sorted(rows))
    for k, want in rows.items():
        for field, v in want.items():
            cmp.eq(f"sting_unit[{k[0]} Q{k[1]}].{field}", stated.get(k, {}).get(field), v)
    for field in next(iter(rows.values()), {}):
        cmp.eq(f"sting_unit.totals.{field}", section["totals"][field], sum(r[field] for r in rows.values()))


def main():
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    with open(sys.argv[2], encoding="utf-8") as f:
        report = json.load(f)
    policy = report["parameters"]["deadline_policy"]
    if policy.get("roll_to_business_day"):
        print("only the default deadline policy (no rolling to business days) is recomputed",
              file=sys.stderr)
        return 2
    position = report["attestation"]["position"]
    cases, ops, reports, units = load(sys.argv[1], position)
    cmp = compare(report, cases, ops, reports, units)
    sting_section(sys.argv[1], report, cmp)
    for p in cmp.problems:
        print(p)
    print(f"{cmp.cells} figures compared over {len(cases)} cases at position {position}, "
          f"{len(cmp.problems)} difference(s)")
    return 1 if cmp.problems else 0


if __name__ == "__main__":
    sys.exit(main())

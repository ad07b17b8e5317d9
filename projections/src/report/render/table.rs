//! The report's tables as plain rows of text, shared by the Markdown, HTML
//! and CSV renderers so all three always show the same figures.

use crate::report::model::*;

pub struct Table {
    pub id: &'static str,
    pub title: String,
    pub header: Vec<String>,
    pub rows: Vec<Vec<String>>,
    pub note: Option<String>,
}

fn opt<T: std::fmt::Display>(v: &Option<T>) -> String {
    v.as_ref()
        .map_or_else(|| "n/a".to_owned(), ToString::to_string)
}

fn counts(id: &'static str, title: &str, what: &str, rows: &[Row]) -> Table {
    Table {
        id,
        title: title.to_owned(),
        header: vec![what.to_owned(), "Count".to_owned()],
        rows: rows
            .iter()
            .map(|r| {
                let label = if r.label.is_empty() { &r.key } else { &r.label };
                vec![label.clone(), r.count.to_string()]
            })
            .collect(),
        note: None,
    }
}

fn pairs(id: &'static str, title: &str, rows: Vec<(&str, String)>) -> Table {
    Table {
        id,
        title: title.to_owned(),
        header: vec!["Measure".to_owned(), "Value".to_owned()],
        rows: rows
            .into_iter()
            .map(|(k, v)| vec![k.to_owned(), v])
            .collect(),
        note: None,
    }
}

/// Every table of the report, in the order the report shows them.
pub fn tables(r: &AnnualReport) -> Vec<Table> {
    let f = &r.figures;
    let mut out = notification_tables(&f.notifications);
    out.extend(timeliness_tables(&f.timeliness));
    out.extend([
        investigations(&f.investigations),
        operations(&f.operations),
        charges(&f.arrests),
        referrals(&f.referrals),
        counts(
            "outcomes",
            "Cases closed without arrest",
            "Disposition",
            &f.outcomes_without_arrest,
        ),
        shares(&f.information_shares),
        victims(&f.victims_identified, &r.parameters),
        public_reports(&f.public_reports),
        units(&f.units),
    ]);
    out.extend(sting_unit(r));
    debug_assert!(
        out.iter()
            .all(|t| t.rows.iter().all(|row| row.len() == t.header.len())),
        "every row has a cell per column"
    );
    out
}

/// The notifications received: the totals, then by source, type, medium, unit and month.
fn notification_tables(n: &NotificationFigures) -> Vec<Table> {
    vec![
        pairs(
            "notifications",
            "Notifications received",
            vec![
                ("Notifications filed", n.total.to_string()),
                (
                    "Duplicate notifications of a CyberTip already held",
                    n.duplicates_linked.to_string(),
                ),
                ("NCMEC CyberTips, urgent", n.cybertips_urgent.to_string()),
                ("NCMEC CyberTips, other", n.cybertips_other.to_string()),
                ("Involving sextortion", n.sextortion.to_string()),
                (
                    "Involving AI-generated material",
                    n.ai_generated_material.to_string(),
                ),
            ],
        ),
        counts(
            "by_source",
            "Notifications by source",
            "Source",
            &n.by_source,
        ),
        counts(
            "by_incident_type",
            "Notifications by incident type",
            "Incident type",
            &n.by_incident_type,
        ),
        counts(
            "by_medium",
            "Notifications by medium",
            "Medium",
            &n.by_medium,
        ),
        counts(
            "by_unit",
            "Notifications by reporting unit",
            "Unit",
            &n.by_unit,
        ),
        counts("by_month", "Notifications by month", "Month", &n.by_month),
    ]
}

/// The 14-day rule, statewide and by unit.
fn timeliness_tables(t: &TimelinessFigures) -> [Table; 2] {
    [
        Table {
            id: "timeliness",
            title: "Timeliness of initial notifications (14-day rule, 29-7e(c))".to_owned(),
            header: ["Measure", "Value", "Definition"].map(str::to_owned).to_vec(),
            rows: [
                ("Notification clocks started", t.received.to_string(), "clocks whose received date is in the period"),
                ("Filed within 14 days", t.on_time.to_string(), "form filed within 14 calendar days of the received date"),
                ("Filed late", t.late.to_string(), "form filed after the 14 days"),
                ("Overdue (not filed, past due)", t.overdue.to_string(), "not filed by the period's last day, the 14 days over"),
                ("Not yet due", t.not_yet_due.to_string(), "not filed, still inside the 14 days on the period's last day"),
                ("Complaint logged, form not yet filed", t.incomplete_form.to_string(), "a complaint opened the case and no form followed yet"),
                ("Due in the period", t.due.to_string(), "on time + late + overdue"),
                ("Percent on time of those due", opt(&t.percent_on_time_of_due), "on time / (on time + late + overdue): an overdue notification counts as not on time"),
                ("Percent on time of those filed", opt(&t.percent_within_14_days), "on time / (on time + late): filed notifications only"),
                ("Median days to notify", opt(&t.median_days_to_notify), "median of filing date - received date over filed notifications"),
            ]
            .into_iter()
            .map(|(k, v, d)| vec![k.to_owned(), v, d.to_owned()])
            .collect(),
            note: None,
        },
        Table {
            id: "timeliness_by_unit",
            title: "Timeliness by reporting unit".to_owned(),
            header: ["Unit", "ORI", "Received", "On time", "Late", "Overdue", "Not yet due"]
                .map(str::to_owned)
                .to_vec(),
            rows: t
                .by_unit
                .iter()
                .map(|u| {
                    vec![
                        u.name.clone(),
                        u.unit.clone(),
                        u.received.to_string(),
                        u.on_time.to_string(),
                        u.late.to_string(),
                        u.overdue.to_string(),
                        u.not_yet_due.to_string(),
                    ]
                })
                .collect(),
            note: None,
        },
    ]
}

/// Investigations opened, reactive and proactive.
fn investigations(i: &InvestigationFigures) -> Table {
    pairs(
        "investigations",
        "Investigations opened",
        vec![
            ("Opened", i.opened.to_string()),
            ("Reactive", i.reactive.to_string()),
            ("Proactive (undercover)", i.proactive.to_string()),
        ],
    )
}

/// Undercover operations, each and all.
fn operations(ops: &OperationFigures) -> Table {
    Table {
        id: "operations",
        title: "Undercover operations of the investigative unit".to_owned(),
        header: [
            "Operation",
            "Lead unit",
            "Started",
            "Ended",
            "Linked cases",
            "Cases opened",
            "Arrests",
        ]
        .map(str::to_owned)
        .to_vec(),
        rows: ops
            .operations
            .iter()
            .map(|o| {
                vec![
                    o.name.clone(),
                    o.lead_unit.clone(),
                    opt(&o.started_on),
                    opt(&o.ended_on),
                    o.linked_cases.to_string(),
                    o.cases_opened.to_string(),
                    o.arrests.to_string(),
                ]
            })
            .chain(std::iter::once(vec![
                format!("All operations ({})", ops.conducted),
                String::new(),
                String::new(),
                String::new(),
                ops.linked_cases.to_string(),
                ops.cases_opened.to_string(),
                ops.arrests.to_string(),
            ]))
            .collect(),
        note: None,
    }
}

/// Arrests and their charges by statute.
fn charges(a: &ArrestFigures) -> Table {
    Table {
        id: "charges",
        title: format!(
            "Arrests ({} arrests in {} cases) and charges by statute",
            a.arrests, a.cases_with_arrest
        ),
        header: ["Statute", "Offense", "Proposed NIBRS", "Arrests", "Counts"]
            .map(str::to_owned)
            .to_vec(),
        rows: a
            .charges
            .iter()
            .map(|c| {
                vec![
                    format!("C.G.S. {}", c.statute),
                    c.title.clone(),
                    c.proposed_nibrs.clone(),
                    c.arrests.to_string(),
                    c.counts.to_string(),
                ]
            })
            .collect(),
        note: Some(a.nibrs_note.clone()),
    }
}

/// Referrals by target and decision.
fn referrals(referrals: &[ReferralRow]) -> Table {
    Table {
        id: "referrals",
        title: "Referrals and their outcome".to_owned(),
        header: [
            "Referred to",
            "Referred",
            "Accepted",
            "Declined",
            "Undecided",
        ]
        .map(str::to_owned)
        .to_vec(),
        rows: referrals
            .iter()
            .map(|x| {
                vec![
                    x.label.clone(),
                    x.referred.to_string(),
                    x.accepted.to_string(),
                    x.declined.to_string(),
                    x.undecided.to_string(),
                ]
            })
            .collect(),
        note: None,
    }
}

/// Information shared both ways, and assistance.
fn shares(s: &ShareFigures) -> Table {
    pairs(
        "shares",
        "Information shared and assistance (29-7e(a)(3), (c))",
        vec![
            (
                "Shares from units to the Task Force",
                s.unit_to_task_force.to_string(),
            ),
            (
                "Shares from the Task Force to units",
                s.task_force_to_units.to_string(),
            ),
            (
                "Distinct units reached by Task Force shares",
                s.unit_recipients.to_string(),
            ),
            (
                "Technical assistance provided",
                s.technical_assistance.to_string(),
            ),
            ("Forensic results provided", s.forensic_results.to_string()),
        ],
    )
}

/// The victim table, band by quarter with totals, and its suppression note.
fn victims(v: &VictimTable, p: &Parameters) -> Table {
    let mut victim_rows: Vec<Vec<String>> = v
        .rows
        .iter()
        .enumerate()
        .map(|(i, band)| {
            let mut row = vec![band.clone()];
            row.extend(v.cells[i].iter().map(ToString::to_string));
            row.push(v.row_totals[i].to_string());
            row
        })
        .collect();
    let mut totals = vec!["All ages".to_owned()];
    totals.extend(v.column_totals.iter().map(ToString::to_string));
    totals.push(v.total.to_string());
    victim_rows.push(totals);
    let mut victim_header = vec!["Age band".to_owned()];
    victim_header.extend(v.columns.iter().cloned());
    victim_header.push("Total".to_owned());

    Table {
        id: "victims",
        title: "Child victims identified, statewide, by age band and quarter".to_owned(),
        header: victim_header,
        rows: victim_rows,
        note: Some(format!(
            "* suppressed: counts of 1 to {} are not shown, and further figures are suppressed, jointly with every earlier release, so that no combination of published figures narrows a hidden count to fewer than {} possible values.",
            p.suppression_threshold, p.protection_width
        )),
    }
}

/// Reports from the public by channel.
fn public_reports(reports: &[PublicReportRow]) -> Table {
    Table {
        id: "public_reports",
        title: "Reports from the public (29-7e(b)(3))".to_owned(),
        header: ["Channel", "Received", "Routed to a unit", "Closed", "Open"]
            .map(str::to_owned)
            .to_vec(),
        rows: reports
            .iter()
            .map(|x| {
                vec![
                    x.label.clone(),
                    x.received.to_string(),
                    x.routed.to_string(),
                    x.closed.to_string(),
                    x.open.to_string(),
                ]
            })
            .collect(),
        note: None,
    }
}

/// The participating units.
fn units(u: &UnitFigures) -> Table {
    pairs(
        "units",
        "Participating law enforcement units",
        vec![
            ("Registered and active", u.registered_active.to_string()),
            (
                "Filed at least one notification in the period",
                u.filing_in_period.to_string(),
            ),
        ],
    )
}

/// The investigative (sting) unit's activity and results by quarter since it was
/// created (29-7e(d)); the recommendation itself is printed beside it by each renderer.
fn sting_unit(r: &AnnualReport) -> Option<Table> {
    let s = r.sting_unit.as_ref()?;
    let row = |label: String, q: &crate::report::sting_unit::QuarterActivity| {
        vec![
            label,
            q.operations_conducted.to_string(),
            q.cases_opened.to_string(),
            q.arrests.to_string(),
            q.referrals.to_string(),
            q.charges_filed.to_string(),
            q.convictions.to_string(),
            q.dismissals.to_string(),
            q.nolles.to_string(),
        ]
    };
    let mut rows: Vec<Vec<String>> = s
        .quarters
        .iter()
        .map(|q| row(format!("{} Q{}", q.year, q.quarter), q))
        .collect();
    rows.push(row("Total".to_owned(), &s.totals));
    Some(Table {
        id: "sting_unit",
        title: format!(
            "Investigative (sting) unit since {}, through {} (29-7e(d))",
            s.created_on, s.through
        ),
        header: [
            "Quarter",
            "Operations",
            "Cases opened",
            "Arrests",
            "Referrals",
            "Charges filed",
            "Convictions",
            "Dismissals",
            "Nolles",
        ]
        .map(str::to_owned)
        .to_vec(),
        rows,
        note: Some(format!(
            "Operations still in progress: {}.",
            s.operations_in_progress
        )),
    })
}

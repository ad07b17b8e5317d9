//! The year [`super::generate`] scripts, one idea a function: the units, the
//! operations, each case from its source to its outcome, and the operations' results.
//! Every function draws from the streams in the order the one long loop did, so the
//! script is the same command for command.

use super::*;

/// Registers every unit (the retired one is renamed, then deactivated) and returns the
/// units that receive cases.
pub(super) fn register_units(s: &mut Script, start: Date) -> Vec<(Ori, &'static UnitSeed)> {
    let mut units: Vec<(Ori, &'static UnitSeed)> = Vec::new();
    for (i, u) in UNITS.iter().chain(std::iter::once(&RETIRED)).enumerate() {
        let Ok(ori) = Ori::parse(u.ori) else { continue };
        let at = at_local(start, 7 * 60 + i as i64);
        s.push(
            at,
            "unit",
            ori.as_str(),
            DemoCommand::Unit(UnitCommand::Register(RegisterUnit {
                ori: ori.clone(),
                name: u.name.to_string(),
                kind: u.kind,
                town: u.town.to_string(),
                recorded_at: at,
            })),
        );
        if u.weight > 0 {
            units.push((ori, u));
        } else {
            retire_unit(s, start, &ori, u);
        }
    }
    units
}

fn retire_unit(s: &mut Script, start: Date, ori: &Ori, u: &UnitSeed) {
    let renamed = at_local(add_days(start, 90), 9 * 60);
    s.push(
        renamed,
        "unit",
        ori.as_str(),
        DemoCommand::Unit(UnitCommand::Rename {
            name: format!("{} (Windham)", u.name),
            recorded_at: renamed,
        }),
    );
    let retired = at_local(add_days(start, 200), 9 * 60);
    s.push(
        retired,
        "unit",
        ori.as_str(),
        DemoCommand::Unit(UnitCommand::Deactivate {
            reason: "Merged into a regional unit".into(),
            recorded_at: retired,
        }),
    );
}

/// Undercover operations: one every ~two months, run by the Task Force.
pub(super) fn plan_operations(
    s: &mut Script,
    rng: &mut SplitMix64,
    start: Date,
    tf: &Ori,
) -> Vec<(OperationId, Date, Date)> {
    let mut operations: Vec<(OperationId, Date, Date)> = Vec::new();
    for n in 0..6i64 {
        let Ok(id) = OperationId::parse(format!("OP-{}-{:02}", start.year(), n + 1)) else {
            continue;
        };
        let planned = add_days(start, 10 + n * 60);
        let begin = add_days(planned, 14);
        let finish = add_days(begin, 10 + rng.between(0, 10));
        let plan_at = at_local(planned, 10 * 60);
        s.push(
            plan_at,
            "operation",
            id.as_str(),
            DemoCommand::Operation(OperationCommand::Plan(PlanOperation {
                operation_id: id.clone(),
                name: format!(
                    "Operation {}",
                    ["Harbor", "Lantern", "Granite", "Orchard", "Beacon", "Keystone"]
                        [n as usize % 6]
                ),
                lead_unit: tf.clone(),
                planned_start: begin,
                planned_end: finish,
                recorded_at: plan_at,
            })),
        );
        operations.push((id, begin, finish));
    }
    operations
}

/// One case as it is being scripted: its unit, its number and where it came from.
struct Draft {
    unit_index: usize,
    ori: Ori,
    useed: &'static UnitSeed,
    number: UnitCaseNumber,
    case_id: CaseId,
    received: Timestamp,
    source: Source,
    /// The operation whose sting found the case.
    operation: Option<usize>,
}

/// The year's state across cases: the script, both random streams, and what later
/// cases and the operations' conclusions need from earlier cases.
pub(super) struct Year {
    pub(super) s: Script,
    rng: SplitMix64,
    /// Issue 17's flows draw from their own stream: the rest of the script is unchanged.
    extra: SplitMix64,
    start: Date,
    tf: Ori,
    units: Vec<(Ori, &'static UnitSeed)>,
    weights: Vec<u64>,
    operations: Vec<(OperationId, Date, Date)>,
    numbers: BTreeMap<String, u32>,
    receipts: u32,
    /// Recent cases' screen names, for the same suspect turning up in another town.
    screen_names: Vec<(Ori, String)>,
    op_cases: BTreeMap<usize, Vec<CaseId>>,
    op_arrests: BTreeMap<usize, u32>,
}

impl Year {
    pub(super) fn new(
        s: Script,
        rng: SplitMix64,
        extra: SplitMix64,
        start: Date,
        tf: Ori,
        units: Vec<(Ori, &'static UnitSeed)>,
        operations: Vec<(OperationId, Date, Date)>,
    ) -> Self {
        let weights = units.iter().map(|(_, u)| u.weight).collect();
        Year {
            s,
            rng,
            extra,
            start,
            tf,
            units,
            weights,
            operations,
            numbers: BTreeMap::new(),
            receipts: 0,
            screen_names: Vec::new(),
            op_cases: BTreeMap::new(),
            op_arrests: BTreeMap::new(),
        }
    }

    fn next_number(&mut self, ori: &Ori, received: Date) -> Option<UnitCaseNumber> {
        let n = self.numbers.entry(ori.to_string()).or_insert(0);
        *n += 1;
        UnitCaseNumber::parse(format!("{:02}-{:05}", received.year() % 100, n)).ok()
    }

    /// Case `i`, from its source to its outcome.
    pub(super) fn script_case(&mut self, i: usize) {
        let Some(d) = self.draft(i) else { return };
        let mut d = d;
        let mut complaint_first = self.rng.chance(35);
        // Routing a public report logs the complaint on the unit's case itself
        // (`PublicReport::routing_complaint`), when it is routed: at `d.received`.
        let mut routed = false;
        if let Source::PublicReport { receipt_number } = &d.source {
            let receipt_number = receipt_number.clone();
            if let Some(id) = self.public_report_flow(&d, &receipt_number) {
                d.case_id = id;
                routed = true;
            }
            complaint_first = true;
        }
        // Most CyberTips reach the unit from the Task Force (issue 17): NCMEC makes the
        // report available, the Task Force receives, triages and disseminates it, and
        // the unit's acknowledgement on the day it receives it opens its case. The rest
        // came to the unit some other way (NCMEC sent it elsewhere first).
        let via_task_force = match source_tip(&d.source) {
            Some(tip) if self.extra.chance(80) => {
                let (s, extra) = (&mut self.s, &mut self.extra);
                tip_flow(s, extra, &tip, &d.ori, &d.number, d.received, self.start);
                true
            }
            _ => false,
        };
        if self.extra.chance(2) {
            let (s, extra) = (&mut self.s, &mut self.extra);
            stray_tip(s, extra, i, &self.units, d.received, self.start);
        }
        let mut complained = d.received;
        if complaint_first && !routed {
            complained = d
                .received
                .checked_add(Span::new().minutes(self.rng.between(10, 300)))
                .unwrap_or(d.received);
        } else if complaint_first {
            // The same draw as above, so the rest of the script does not shift.
            self.rng.between(10, 300);
        }
        // The acknowledgement logged this tip's complaint; the draws above are made
        // anyway, so the rest of the script is the same with or without intake.
        if complaint_first && !via_task_force && !routed {
            self.log_complaint(&d, complained);
        }
        let (form, filed_at, urgent) = self.file(&d, complained);
        self.second_unit_files(&d, filed_at);
        let t = self.triage(&d, &form, filed_at, urgent);
        let t = self.investigate(&d, t);
        self.outcome(&d, &form, t);
    }

    /// The case's unit, source and day, and its number; `None`: no case (a unit,
    /// number or case id that does not parse).
    fn draft(&mut self, i: usize) -> Option<Draft> {
        let unit_index = self.rng.weighted(&self.weights);
        let (ori, useed) = self.units.get(unit_index).cloned()?;
        // Source.
        let kind = self.rng.weighted(&[55, 8, 7, 10, 5, 5, 5, 5]);
        // Day 0 belongs to unit registration; stings only find cases while
        // they run.
        let op_choice = (kind == 7).then(|| self.rng.below(self.operations.len() as u64) as usize);
        let day = self.day(op_choice);
        let received = at_local(add_days(self.start, day), self.rng.between(7 * 60, 22 * 60));
        let received_on = ct_date(received);
        let number = self.next_number(&ori, received_on)?;
        let case_id = CaseId::for_unit_case(&ori, &number).ok()?;
        let (source, operation) = self.source(kind, i, received_on, op_choice);
        Some(Draft {
            unit_index,
            ori,
            useed,
            number,
            case_id,
            received,
            source,
            operation,
        })
    }

    /// The day of the year a case arrives: while its sting runs, or any day but the
    /// first.
    fn day(&mut self, op_choice: Option<usize>) -> i64 {
        match op_choice.and_then(|op| self.operations.get(op)) {
            Some((_, begin, finish)) => {
                let from = begin
                    .since(self.start)
                    .map_or(1, |sp| i64::from(sp.get_days()));
                let to = finish
                    .since(self.start)
                    .map_or(from, |sp| i64::from(sp.get_days()));
                self.rng.between(from, to)
            }
            None => 1 + self.rng.below(364) as i64,
        }
    }

    /// The source of kind `kind`, and the operation of a sting's case.
    fn source(
        &mut self,
        kind: usize,
        i: usize,
        received_on: Date,
        op_choice: Option<usize>,
    ) -> (Source, Option<usize>) {
        let rng = &mut self.rng;
        let source = match kind {
            0 => {
                let tip = format!("{}", 150_000_000 + i as u64 * 17 + rng.below(17));
                match CyberTipNumber::parse(tip) {
                    Ok(t) => Source::NcmecCybertip { cybertip_number: t },
                    Err(_) => Source::Parent,
                }
            }
            1 => {
                self.receipts += 1;
                let prefix = if rng.chance(60) { "WEB" } else { "HL" };
                match ReceiptNumber::parse(format!(
                    "{prefix}-{}-{:06}",
                    received_on.year(),
                    self.receipts
                )) {
                    Ok(r) => Source::PublicReport { receipt_number: r },
                    Err(_) => Source::Parent,
                }
            }
            2 => Source::School,
            3 => Source::Parent,
            4 => Source::Dcf,
            5 => Source::OtherAgency {
                agency_name: "Homeland Security Investigations".into(),
            },
            6 => Source::OnlineServiceProvider {
                provider_name: PLATFORMS[rng.below(PLATFORMS.len() as u64) as usize].into(),
            },
            _ => {
                let op = op_choice.unwrap_or(0);
                return (
                    Source::ProactiveUndercover {
                        operation_id: self.operations.get(op).map(|o| o.0.clone()),
                    },
                    Some(op),
                );
            }
        };
        (source, None)
    }

    /// Public reports reach the unit through the hotline/web site first: received,
    /// triaged and routed to the unit, whose case is then the report's. Some other
    /// reports are closed without routing.
    fn public_report_flow(&mut self, d: &Draft, receipt_number: &ReceiptNumber) -> Option<CaseId> {
        let (s, rng) = (&mut self.s, &mut self.rng);
        let pr_id = receipt_number.to_string();
        let got = d
            .received
            .checked_sub(Span::new().hours(rng.between(4, 72)))
            .unwrap_or(d.received);
        let channel = if pr_id.starts_with("WEB") {
            Channel::WebSite
        } else {
            Channel::Hotline
        };
        s.push(
            got,
            "public_report",
            pr_id.as_str(),
            DemoCommand::PublicReport(PublicReportCommand::Receive {
                receipt_number: receipt_number.clone(),
                channel,
                category: None,
                content: Some(demo_report_content(receipt_number.as_str())),
                recorded_at: got,
            }),
        );
        let triaged = got.checked_add(Span::new().hours(2)).unwrap_or(got);
        s.push(
            triaged,
            "public_report",
            pr_id.as_str(),
            DemoCommand::PublicReport(PublicReportCommand::Triage {
                priority: if rng.chance(10) {
                    TriagePriority::Urgent
                } else {
                    TriagePriority::Standard
                },
                category: Some(IncidentType::OnlineEnticement),
                recorded_at: triaged,
            }),
        );
        s.push(
            d.received,
            "public_report",
            pr_id.as_str(),
            DemoCommand::PublicReport(PublicReportCommand::RouteToUnit {
                unit: d.ori.clone(),
                recorded_at: d.received,
            }),
        );
        let routed = CaseId::for_public_report(&d.ori, receipt_number).ok();
        if self.rng.chance(30) {
            self.closed_report(ct_date(d.received), got);
        }
        routed
    }

    /// A hotline report closed as not actionable.
    fn closed_report(&mut self, received_on: Date, got: Timestamp) {
        self.receipts += 1;
        let Ok(r) = ReceiptNumber::parse(format!("HL-{}-{:06}", received_on.year(), self.receipts))
        else {
            return;
        };
        let at = got.checked_add(Span::new().hours(1)).unwrap_or(got);
        self.s.push(
            at,
            "public_report",
            r.as_str(),
            DemoCommand::PublicReport(PublicReportCommand::Receive {
                receipt_number: r.clone(),
                channel: Channel::Hotline,
                category: None,
                content: Some(demo_report_content(r.as_str())),
                recorded_at: at,
            }),
        );
        let closed = at.checked_add(Span::new().hours(3)).unwrap_or(at);
        self.s.push(
            closed,
            "public_report",
            r.as_str(),
            DemoCommand::PublicReport(PublicReportCommand::Close {
                reason: CloseReason::NotActionable,
                recorded_at: closed,
            }),
        );
    }

    fn log_complaint(&mut self, d: &Draft, at: Timestamp) {
        self.s.case(
            at,
            &d.case_id,
            CaseCommand::LogComplaint(LogComplaint {
                case_id: d.case_id.clone(),
                reporting_unit: d.ori.clone(),
                unit_case_number: Some(d.number.clone()),
                received_on: ct_date(d.received),
                received_time: None,
                received_offset: None,
                source: d.source.clone(),
                recorded_at: at.max(d.received),
            }),
        );
    }

    /// The notification, `last` being when the case was last touched. Filing delay:
    /// mostly on time, some late, a few never. Returns the form, when it was filed
    /// and whether it is urgent.
    fn file(&mut self, d: &Draft, last: Timestamp) -> (NotificationForm, Timestamp, bool) {
        let rng = &mut self.rng;
        let delay = match rng.weighted(&[62, 18, 12, 8]) {
            0 => rng.between(0, 10),
            1 => rng.between(11, 14),
            2 => rng.between(15, 45),
            _ => 400,
        };
        let urgent = rng.chance(8);
        let filed_at = after(last, delay, rng);
        let mut form = build_form(
            FormSeed {
                unit: &d.ori,
                number: &d.number,
                received: d.received,
                source: d.source.clone(),
                town: d.useed.town,
                urgent,
            },
            rng,
        );
        same_suspect_elsewhere(&mut form, &d.ori, &mut self.screen_names, &mut self.extra);
        self.s.case(
            filed_at,
            &d.case_id,
            CaseCommand::FileNotification(FileNotification {
                case_id: d.case_id.clone(),
                form: form.clone(),
                recorded_at: filed_at,
            }),
        );
        (form, filed_at, urgent)
    }

    /// A second unit files the same CyberTip a few days later, half the time after
    /// logging its own complaint.
    fn second_unit_files(&mut self, d: &Draft, filed_at: Timestamp) {
        // The chance is drawn for every case, with a tip or not.
        let second = self.rng.chance(4);
        let Some(tip) = source_tip(&d.source).filter(|_| second) else {
            return;
        };
        let units = self.units.len();
        let other_index =
            (d.unit_index + 1 + self.rng.below((units as u64).saturating_sub(1)) as usize) % units;
        let Some((other, oseed)) = self.units.get(other_index).cloned() else {
            return;
        };
        let other_received = after(d.received, self.rng.between(0, 3), &mut self.rng);
        let Some(onum) = self.next_number(&other, ct_date(other_received)) else {
            return;
        };
        let Ok(other_case) = CaseId::for_unit_case(&other, &onum) else {
            return;
        };
        let other_filed = after(other_received, self.rng.between(1, 12), &mut self.rng);
        if self.rng.chance(50) {
            self.s.case(
                other_received,
                &other_case,
                CaseCommand::LogComplaint(LogComplaint {
                    case_id: other_case.clone(),
                    reporting_unit: other.clone(),
                    unit_case_number: Some(onum.clone()),
                    received_on: ct_date(other_received),
                    received_time: None,
                    received_offset: None,
                    source: Source::NcmecCybertip {
                        cybertip_number: tip.clone(),
                    },
                    recorded_at: other_received,
                }),
            );
        }
        let oform = build_form(
            FormSeed {
                unit: &other,
                number: &onum,
                received: other_received,
                source: d.source.clone(),
                town: oseed.town,
                urgent: false,
            },
            &mut self.rng,
        );
        self.s.case(
            other_filed.max(filed_at),
            &other_case,
            CaseCommand::FileNotification(FileNotification {
                case_id: other_case.clone(),
                form: oform,
                recorded_at: other_filed.max(filed_at),
            }),
        );
    }

    /// The Task Force's first work on the case: triage, issue 17's later flows, an
    /// urgent flag, a lead investigator, the sting's link and a correction. Returns
    /// when the last of them happened.
    fn triage(
        &mut self,
        d: &Draft,
        form: &NotificationForm,
        filed_at: Timestamp,
        urgent: bool,
    ) -> Timestamp {
        let mut t = after(filed_at, self.rng.between(0, 4), &mut self.rng);
        self.s.case(
            t,
            &d.case_id,
            status_cmd(CaseStatus::Triaged, None, None, t),
        );
        later_flows(&mut self.s, &mut self.extra, &d.case_id, form, t);
        if self.rng.chance(3) && !urgent {
            t = t.checked_add(Span::new().hours(1)).unwrap_or(t);
            self.s.case(
                t,
                &d.case_id,
                CaseCommand::SetUrgent(SetUrgent {
                    reason: UrgencyReason::ChildIdentifiable,
                    recorded_at: t,
                }),
            );
        }
        if let Some(inv) = self.rng.pick(TASK_FORCE_INVESTIGATORS) {
            t = t.checked_add(Span::new().hours(2)).unwrap_or(t);
            self.s.case(
                t,
                &d.case_id,
                CaseCommand::AssignInvestigator(AssignInvestigator {
                    investigator: Investigator {
                        name: (*inv).to_string(),
                        badge: None,
                        agency: self.tf.clone(),
                    },
                    role: InvestigatorRole::Lead,
                    recorded_at: t,
                }),
            );
        }
        if let Some((op, (op_id, _, _))) = d
            .operation
            .and_then(|op| Some((op, self.operations.get(op)?)))
        {
            t = t.checked_add(Span::new().hours(1)).unwrap_or(t);
            self.s.case(
                t,
                &d.case_id,
                CaseCommand::LinkOperation(LinkOperation {
                    operation_id: op_id.clone(),
                    recorded_at: t,
                }),
            );
            self.op_cases.entry(op).or_default().push(d.case_id.clone());
        }
        if self.rng.chance(3) {
            t = t.checked_add(Span::new().hours(3)).unwrap_or(t);
            correct_age_band(&mut self.s, &d.case_id, form, t);
        }
        t
    }

    /// Sharing both ways around the start of the investigation. Returns when the last
    /// of it happened.
    fn investigate(&mut self, d: &Draft, mut t: Timestamp) -> Timestamp {
        let rng = &mut self.rng;
        if rng.chance(45) {
            t = after(t, rng.between(1, 20), rng);
            self.s.case(
                t,
                &d.case_id,
                CaseCommand::ShareInformation(ShareInformation {
                    direction: ShareDirection::UnitToTaskForce {
                        from_unit: d.ori.clone(),
                    },
                    category: ShareCategory::CaseUpdate,
                    summary: "Investigative update: legal process served on provider".into(),
                    recorded_at: t,
                }),
            );
        }
        t = after(t, rng.between(1, 10), rng);
        self.s.case(
            t,
            &d.case_id,
            status_cmd(CaseStatus::Investigating, None, None, t),
        );
        if rng.chance(25) {
            t = after(t, rng.between(1, 15), rng);
            let mut to_units = vec![d.ori.clone()];
            if let Some((extra, _)) = self.units.get(rng.below(self.units.len() as u64) as usize) {
                if *extra != d.ori {
                    to_units.push(extra.clone());
                }
            }
            self.s.case(
                t,
                &d.case_id,
                CaseCommand::ShareInformation(ShareInformation {
                    direction: ShareDirection::TaskForceToUnits { to_units },
                    category: if rng.chance(50) {
                        ShareCategory::ForensicResults
                    } else {
                        ShareCategory::SubjectInformation
                    },
                    summary: "Task Force analysis shared with the investigating unit(s)".into(),
                    recorded_at: t,
                }),
            );
        }
        t
    }

    /// How the case ends: an arrest, a federal referral, closed without either,
    /// suspended, or still open.
    fn outcome(&mut self, d: &Draft, form: &NotificationForm, t: Timestamp) {
        match self.rng.weighted(&[25, 10, 30, 10, 25]) {
            0 => self.arrest(d, form, t),
            1 => self.referral(d, t),
            2 => {
                let t = after(t, self.rng.between(10, 90), &mut self.rng);
                let d2 = if self.rng.chance(50) {
                    Disposition::Unfounded
                } else {
                    Disposition::InsufficientInformation
                };
                self.s.case(
                    t,
                    &d.case_id,
                    status_cmd(CaseStatus::Closed, Some(d2), None, t),
                );
            }
            3 => {
                let t = after(t, self.rng.between(10, 60), &mut self.rng);
                self.s.case(
                    t,
                    &d.case_id,
                    status_cmd(
                        CaseStatus::Suspended,
                        None,
                        Some("Awaiting provider returns"),
                        t,
                    ),
                );
            }
            _ => {}
        }
    }

    /// Arrest (by the Task Force in a sting), prosecution, and the case closed.
    fn arrest(&mut self, d: &Draft, form: &NotificationForm, t: Timestamp) {
        let rng = &mut self.rng;
        let mut t = after(t, rng.between(5, 60), rng);
        let statutes = if form.suspected_statutes.is_empty() {
            statutes_for(form.incident.incident_type, rng)
        } else {
            form.suspected_statutes.clone()
        };
        let charges = statutes
            .into_iter()
            .map(|statute| Charge {
                statute,
                counts: 1 + rng.below(3) as u16,
            })
            .collect();
        self.s.case(
            t,
            &d.case_id,
            CaseCommand::RecordArrest(RecordArrest {
                arrested_on: ct_date(t),
                arresting_unit: if d.operation.is_some() {
                    self.tf.clone()
                } else {
                    d.ori.clone()
                },
                charges,
                recorded_at: t,
            }),
        );
        if let Some(op) = d.operation {
            *self.op_arrests.entry(op).or_default() += 1;
        }
        prosecution_flow(&mut self.s, &mut self.extra, &d.case_id, t);
        t = after(t, self.rng.between(1, 10), &mut self.rng);
        self.s.case(
            t,
            &d.case_id,
            status_cmd(CaseStatus::Closed, Some(Disposition::Arrest), None, t),
        );
    }

    /// Federal referral, accepted (the case closes) or declined (it goes on).
    fn referral(&mut self, d: &Draft, t: Timestamp) {
        let rng = &mut self.rng;
        let mut t = after(t, rng.between(5, 40), rng);
        self.s.case(
            t,
            &d.case_id,
            CaseCommand::RecordReferral(RecordReferral {
                target: ReferralTarget::FederalProsecutors,
                agency_name: "U.S. Attorney's Office, District of Connecticut".into(),
                referred_on: ct_date(t),
                recorded_at: t,
            }),
        );
        t = t.checked_add(Span::new().hours(1)).unwrap_or(t);
        self.s.case(
            t,
            &d.case_id,
            status_cmd(CaseStatus::Referred, None, None, t),
        );
        t = after(t, rng.between(5, 30), rng);
        let accepted = rng.chance(65);
        self.s.case(
            t,
            &d.case_id,
            CaseCommand::DecideReferral(DecideReferral {
                referral_number: 1,
                decision: if accepted {
                    ReferralDecision::Accepted
                } else {
                    ReferralDecision::Declined
                },
                decided_on: ct_date(t),
                note: None,
                recorded_at: t,
            }),
        );
        t = t.checked_add(Span::new().hours(1)).unwrap_or(t);
        let status = if accepted {
            status_cmd(
                CaseStatus::Closed,
                Some(Disposition::ReferredToFederalProsecutors),
                None,
                t,
            )
        } else {
            status_cmd(
                CaseStatus::Investigating,
                None,
                Some("Federal prosecution declined; continuing state investigation"),
                t,
            )
        };
        self.s.case(t, &d.case_id, status);
    }

    /// Conduct and conclude each operation with its outcomes.
    pub(super) fn conclude_operations(&mut self) {
        for (n, (id, begin, finish)) in self.operations.iter().enumerate() {
            let conducted = at_local(add_days(*finish, 1), 9 * 60);
            self.s.push(
                conducted,
                "operation",
                id.as_str(),
                DemoCommand::Operation(OperationCommand::RecordConduct(RecordConduct {
                    started_on: *begin,
                    ended_on: *finish,
                    media: vec![Medium::ChatIm, Medium::Gaming],
                    platforms: PLATFORMS
                        .iter()
                        .take(3)
                        .map(std::string::ToString::to_string)
                        .collect(),
                    personas: PERSONAS
                        .iter()
                        .take(2 + n % 3)
                        .map(std::string::ToString::to_string)
                        .collect(),
                    recorded_at: conducted,
                })),
            );
            let concluded = at_local(add_days(*finish, 45), 9 * 60);
            let mut cases_opened = self.op_cases.remove(&n).unwrap_or_default();
            cases_opened.truncate(crate::operation::bounds::CASES);
            self.s.push(
                concluded,
                "operation",
                id.as_str(),
                DemoCommand::Operation(OperationCommand::Conclude(ConcludeOperation {
                    concluded_on: add_days(*finish, 45),
                    cases_opened,
                    arrests: self.op_arrests.get(&n).copied().unwrap_or(0),
                    recorded_at: concluded,
                })),
            );
        }
    }
}

/// A correction of the notification itself: its child's age band, mis-keyed. The app
/// puts the notification's ledger position in `corrects`.
fn correct_age_band(s: &mut Script, case_id: &CaseId, form: &NotificationForm, t: Timestamp) {
    let change = CorrectedValue::VictimAgeBand {
        age_band: if form.victims.first().map(|v| v.age_band) == Some(AgeBand::Age13To15) {
            AgeBand::Age16To17
        } else {
            AgeBand::Age13To15
        },
    };
    s.steps.push(ScriptedCommand {
        at: t,
        aggregate_type: "case",
        aggregate_id: case_id.to_string(),
        command: DemoCommand::Case(CaseCommand::RecordCorrection(RecordCorrection {
            corrects: LedgerPosition::new(0),
            changes: vec![change],
            reason: "Age band mis-keyed on the original form".into(),
            recorded_at: t,
        })),
        resolve_position: Some(PositionQuery {
            aggregate_type: "case",
            aggregate_id: case_id.to_string(),
            event_type: "NotificationFiled",
            occurrence: 1,
        }),
    });
}

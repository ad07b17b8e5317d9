//! The compliance dashboard: the 14-day counts as cards and a chart, continued
//! sharing, and the table by unit (names, with the ORI as secondary text).

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use icac_aggregates::services::UnitDirectory;
use icac_projections::compliance::UnitCompliance;
use serde::Deserialize;

use super::layout::{render, Chrome};
use super::staff::{chrome, error_page, Staff};
use crate::access::auth::{Permission, Principal};
use crate::http::problem::Problem;
use crate::http::routes::queries::parse_date;
use crate::http::SharedState;
use crate::read_side::views::ViewQueryError;

#[derive(Debug, Deserialize)]
pub struct DashboardQuery {
    pub as_of: Option<String>,
    /// `csv`: the by-unit table as a download.
    pub format: Option<String>,
}

#[derive(Template)]
#[template(path = "welcome.html")]
struct WelcomePage<'a> {
    chrome: Chrome,
    name: &'a str,
    role: &'a str,
}

struct Card {
    key: &'static str,
    label: &'static str,
    count: u64,
}

/// One row of the by-unit table.
pub(super) struct UnitRow {
    pub name: String,
    pub ori: String,
    pub notifications: u64,
    pub on_time: u64,
    pub late: u64,
    pub pending: u64,
    pub due_soon: u64,
    pub overdue: u64,
    pub incomplete: u64,
}

/// A column chart drawn by the template: positions computed here, labels at 14 px,
/// one colour per status (the same as the tags), each bar with its count on top.
pub(super) struct Chart {
    title: &'static str,
    width: u32,
    height: u32,
    base: u32,
    bar_width: u32,
    bars: Vec<ChartBar>,
}

struct ChartBar {
    label: &'static str,
    value: u64,
    colour: &'static str,
    x: u32,
    y: u32,
    h: u32,
}

impl Chart {
    fn columns(title: &'static str, bars: &[(&'static str, u64, &'static str)]) -> Chart {
        let (width, height, top, base, bar_width, gap) =
            (640u32, 300u32, 30u32, 260u32, 80u32, 30u32);
        let max = bars.iter().map(|b| b.1).max().unwrap_or(0).max(1);
        let bars = bars
            .iter()
            .enumerate()
            .map(|(i, &(label, value, colour))| {
                let h =
                    u32::try_from(value.saturating_mul(u64::from(base - top)) / max).unwrap_or(0);
                ChartBar {
                    label,
                    value,
                    colour,
                    x: 50 + u32::try_from(i).unwrap_or(0) * (bar_width + gap),
                    y: base - h,
                    h,
                }
            })
            .collect();
        Chart {
            title,
            width,
            height,
            base,
            bar_width,
            bars,
        }
    }
}

#[derive(Template)]
#[template(path = "dashboard.html")]
struct DashboardPage {
    chrome: Chrome,
    scope: String,
    as_of: jiff::civil::Date,
    policy: String,
    link_cards: bool,
    cards: Vec<Card>,
    cadence: u32,
    sharing_current: u64,
    sharing_due_soon: u64,
    sharing_overdue: u64,
    unacknowledged: usize,
    chart: Chart,
    notifications: u64,
    incomplete: u64,
    units: Vec<UnitRow>,
}

/// A unit's name from the directory, or its code when the directory has none.
pub(super) fn unit_name(state: &SharedState, ori: &icac_aggregates::ids::Ori) -> String {
    state
        .commands
        .directory()
        .unit(ori)
        .map_or_else(|| ori.to_string(), |u| u.name)
}

pub(super) fn unit_rows(state: &SharedState, units: &[UnitCompliance]) -> Vec<UnitRow> {
    let mut units: Vec<_> = units.iter().filter(|u| u.unit.is_some()).collect();
    units.sort_by(|a, b| b.overdue.cmp(&a.overdue).then(b.due_soon.cmp(&a.due_soon)));
    units
        .iter()
        .filter_map(|u| {
            let ori = u.unit.as_ref()?;
            Some(UnitRow {
                name: unit_name(state, ori),
                ori: ori.to_string(),
                notifications: u.notifications,
                on_time: u.on_time,
                late: u.late,
                pending: u.pending,
                due_soon: u.due_soon,
                overdue: u.overdue,
                incomplete: u.incomplete_form,
            })
        })
        .collect()
}

fn units_csv(state: &SharedState, units: &[UnitCompliance], as_of: jiff::civil::Date) -> Response {
    let body = super::csv::table(
        &[
            "unit",
            "ori",
            "notifications",
            "on_time",
            "late",
            "pending",
            "due_soon",
            "overdue",
            "incomplete_form",
        ],
        unit_rows(state, units).into_iter().map(|u| {
            vec![
                u.name,
                u.ori,
                u.notifications.to_string(),
                u.on_time.to_string(),
                u.late.to_string(),
                u.pending.to_string(),
                u.due_soon.to_string(),
                u.overdue.to_string(),
                u.incomplete.to_string(),
            ]
        }),
    );
    super::csv::download(&format!("icac-compliance-by-unit-{as_of}.csv"), body)
}

/// The dashboard's figures at one ledger position: the same for every request until
/// the next commit, so they are computed once per position, date and unit.
pub struct Figures {
    report: icac_projections::compliance::ComplianceReport,
    sharing: icac_projections::sharing::SharingCounts,
    unacknowledged: usize,
}

type FiguresKey = (u64, jiff::civil::Date, Option<icac_aggregates::ids::Ori>);

/// The last few positions' figures (a new position drops the older ones).
#[derive(Default)]
pub struct FiguresCache {
    entries: std::sync::Mutex<Vec<(FiguresKey, std::sync::Arc<Figures>)>>,
    /// One computation at a time: the users who open the dashboard together after a
    /// commit wait for one computation instead of each running their own (which took
    /// the whole machine for seconds at 64 users).
    computing: tokio::sync::Mutex<()>,
}

impl FiguresCache {
    const ENTRIES: usize = 32;

    async fn get_or_compute(
        &self,
        state: &SharedState,
        key: FiguresKey,
    ) -> Result<std::sync::Arc<Figures>, Problem> {
        if let Some(f) = self.get(&key) {
            return Ok(f);
        }
        let _turn = self.computing.lock().await;
        if let Some(f) = self.get(&key) {
            return Ok(f);
        }
        let computed = figures(state, key.1, key.2.as_ref()).await?;
        Ok(self.put(key, computed))
    }

    fn get(&self, key: &FiguresKey) -> Option<std::sync::Arc<Figures>> {
        let entries = self.entries.lock().ok()?;
        entries
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, f)| f.clone())
    }

    fn put(&self, key: FiguresKey, figures: Figures) -> std::sync::Arc<Figures> {
        let figures = std::sync::Arc::new(figures);
        if let Ok(mut entries) = self.entries.lock() {
            entries.retain(|(k, _)| k.0 == key.0);
            if entries.len() >= Self::ENTRIES {
                entries.remove(0);
            }
            entries.push((key, figures.clone()));
        }
        figures
    }
}

async fn figures(
    state: &SharedState,
    as_of: jiff::civil::Date,
    unit: Option<&icac_aggregates::ids::Ori>,
) -> Result<Figures, Problem> {
    let report = state
        .projections
        .compliance_counts(as_of, unit, &state.config.deadline_policy)
        .await
        .map_err(|e| match e {
            ViewQueryError::Deadline(e) => Problem::field("/as_of", e.to_string()),
            ViewQueryError::Projection(e) => Problem::internal(e),
        })?;
    let sharing = state
        .projections
        .sharing(as_of, unit, &state.config.sharing_policy, false)
        .await
        .map_err(Problem::internal)?
        .total;
    let unacknowledged = state
        .projections
        .tips()
        .await
        .map_err(Problem::internal)?
        .iter()
        .filter(|t| t.status == icac_projections::tips::TipStatus::UnacknowledgedDissemination)
        .filter(|t| unit.is_none() || t.disseminated_to.as_ref() == unit)
        .count();
    Ok(Figures {
        report,
        sharing,
        unacknowledged,
    })
}

fn welcome(p: &Principal, csrf: &str) -> Response {
    render(
        StatusCode::OK,
        &WelcomePage {
            chrome: chrome(p, csrf, "Dashboard"),
            name: &p.name,
            role: p.role.label(),
        },
    )
}

pub async fn dashboard(
    State(state): State<SharedState>,
    Staff(p, csrf): Staff,
    Query(q): Query<DashboardQuery>,
) -> Response {
    let see_per_case = p.role.allows(Permission::ReadCompliance);
    if !see_per_case && !p.role.allows(Permission::ReadAggregates) {
        return welcome(&p, &csrf);
    }
    let as_of = match parse_date("as_of", q.as_of.as_deref()) {
        Ok(d) => d,
        Err(e) => return error_page(&e),
    };
    let position = match state.projections.catch_up().await {
        Ok(p) => p,
        Err(e) => return error_page(&Problem::internal(e)),
    };
    let unit = if p.role.is_unit_bound() {
        p.unit.clone()
    } else {
        None
    };
    let key = (position, as_of, unit.clone());
    let figures = match state.dashboard_cache.get_or_compute(&state, key).await {
        Ok(f) => f,
        Err(e) => return error_page(&e),
    };
    let (report, sharing, unacknowledged) =
        (&figures.report, &figures.sharing, figures.unacknowledged);
    if q.format.as_deref() == Some("csv") {
        return units_csv(&state, &report.units, as_of);
    }
    let t = &report.total;
    let page = DashboardPage {
        chrome: chrome(&p, &csrf, "Compliance dashboard"),
        scope: match &unit {
            Some(u) => format!("{} ({u})", unit_name(&state, u)),
            None => "all units".to_owned(),
        },
        as_of,
        policy: report.policy_statement.clone(),
        link_cards: see_per_case && p.role.allows(Permission::ReadCases),
        cards: vec![
            Card {
                key: "overdue",
                label: "Overdue",
                count: t.overdue,
            },
            Card {
                key: "due_soon",
                label: "Due soon",
                count: t.due_soon,
            },
            Card {
                key: "pending",
                label: "Pending",
                count: t.pending,
            },
            Card {
                key: "late",
                label: "Filed late",
                count: t.late,
            },
            Card {
                key: "on_time",
                label: "On time",
                count: t.on_time,
            },
        ],
        cadence: state.config.sharing_policy.default_cadence_days,
        sharing_current: sharing.current,
        sharing_due_soon: sharing.due_soon,
        sharing_overdue: sharing.overdue,
        unacknowledged,
        chart: Chart::columns(
            "Notifications by 14-day status",
            &[
                ("On time", t.on_time, "#2e7d32"),
                ("Filed late", t.late, "#8a4b08"),
                ("Pending", t.pending, "#555555"),
                ("Due soon", t.due_soon, "#9a4a00"),
                ("Overdue", t.overdue, "#b00020"),
            ],
        ),
        notifications: t.notifications,
        incomplete: t.incomplete_form,
        units: unit_rows(&state, &report.units),
    };
    render(StatusCode::OK, &page)
}

//! Server-rendered HTML: the public reporting page and the staff pages.

pub mod layout;
pub mod public;
pub mod staff;

use axum::routing::{get, post};
use axum::Router;

use super::SharedState;

pub fn router() -> Router<SharedState> {
    Router::new()
        .route("/", get(public::page))
        .route("/report", post(public::submit))
        .route("/staff", get(staff::dashboard))
        .route("/staff/login", get(staff::login_page).post(staff::login))
        .route("/staff/logout", post(staff::logout))
        .route("/staff/cases", get(staff::cases))
        .route("/staff/cases/{case_id}", get(staff::case_page))
        .route("/staff/cases/{case_id}/receipt", get(staff::case_receipt))
        .route("/staff/annual-report", get(staff::annual))
        .route("/staff/ledger", get(staff::ledger))
}

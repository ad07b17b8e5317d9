//! Server-rendered HTML: the public reporting page and the staff pages, every one an
//! askama template under `templates/` extending `layout.html`.

pub mod actions;
pub mod assets;
pub mod cases;
pub mod csv;
pub mod dashboard;
pub mod form_spec;
pub mod intake;
pub mod labels;
pub mod layout;
pub mod notification;
pub mod passkey;
pub mod public;
pub mod reports;
pub mod signin;
pub mod staff;
pub mod timeline;

use axum::routing::{get, post};
use axum::Router;

use super::SharedState;

pub fn router() -> Router<SharedState> {
    Router::new()
        .route("/", get(public::page))
        .route("/report", post(public::submit))
        .route("/staff", get(dashboard::dashboard))
        .route("/staff/login", get(staff::login_page).post(staff::login))
        .route("/staff/logout", post(staff::logout))
        .route(
            "/staff/signin",
            get(signin::signin_page).post(signin::signin),
        )
        .route(
            "/staff/enroll",
            get(signin::enroll_page).post(signin::enroll),
        )
        .route("/staff/account", get(signin::account_page))
        .route("/staff/account/password", post(signin::change_password))
        .route("/staff/passkey.js", get(passkey::script))
        .route(
            "/staff/passkey/register/start",
            post(passkey::register_start),
        )
        .route(
            "/staff/passkey/register/finish",
            post(passkey::register_finish),
        )
        .route("/staff/passkey/login/start", post(passkey::login_start))
        .route("/staff/passkey/login/finish", post(passkey::login_finish))
        .route("/staff/notifications/new", get(notification::new_form))
        .route("/staff/notifications", post(notification::submit))
        .route(notification::CHECK_PATH, post(notification::check))
        .route(assets::NOTIFICATION_JS, get(assets::notification_js))
        .route("/staff/cases", get(cases::cases))
        .route("/staff/cases/{case_id}", get(cases::case_page))
        .route("/staff/cases/{case_id}/receipt", get(cases::case_receipt))
        .route(
            "/staff/cases/{case_id}/actions/{action}",
            post(actions::act),
        )
        .route("/staff/intake", get(intake::queue))
        .route("/staff/intake/{receipt}/{action}", post(intake::act))
        .route("/staff/annual-report", get(reports::annual))
        .route("/staff/ledger", get(reports::ledger))
}

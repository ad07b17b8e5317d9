//! The service: a JSON API under `/v1`, the public reporting page at `/`, staff pages
//! under `/staff`, OpenAPI at `/v1/openapi.json`, and `/healthz`, `/readyz`, `/metrics`.
//!
//! Every request passes through the same layers: a request id, a structured log line
//! (route, status, latency, principal id — never bodies), a body limit, a timeout, and
//! a final mapping that turns any bare error response into RFC 9457 problem+json.

pub mod access_review;
pub mod audit_trail;
pub mod client_addr;
pub mod command_extractor;
pub mod csrf;
pub mod extract;
pub mod listener;
pub mod metrics;
pub mod openapi;
pub mod pages;
pub mod passkeys;
pub mod problem;
pub mod rate_limit;
pub mod requests;
pub mod routes;
pub mod second_factor;
pub mod server;
pub mod sessions;
pub mod signin;
pub mod web_forms;

use std::sync::Arc;
use std::time::Duration;

use icac_aggregates::compliance::DeadlinePolicy;

use crate::access::access_log::AccessLog;
use crate::access::tokens::TokenStore;
use crate::commands::Commands;
use crate::ledger::Ledger;
use crate::read_side::runner::ProjectionRunner;
use icac_format::keys::LedgerKey;
use metrics::Metrics;
use rate_limit::RateLimiter;

pub use server::{router, serve, ServeError};

/// A hotline the public page lists (29-7e(b)(3)); configurable per deployment.
#[derive(Debug, Clone)]
pub struct Hotline {
    pub label: String,
    pub number: String,
}

impl Hotline {
    /// The number as a `tel:` link takes it (no spaces).
    pub fn tel(&self) -> String {
        self.number.replace(' ', "")
    }
}

#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub body_limit: usize,
    pub request_timeout: Duration,
    pub hotlines: Vec<Hotline>,
    /// Public report submissions allowed per client address per window.
    pub public_reports_per_window: u32,
    pub public_window: Duration,
    pub deadline_policy: DeadlinePolicy,
    /// The continued-sharing clock's default cadence (29-7e(c)).
    pub sharing_policy: icac_aggregates::compliance::sharing::SharingPolicy,
    /// Set the `Secure` attribute on the staff session cookie (behind TLS).
    pub secure_cookies: bool,
    /// Connection cap, header-read and idle timeouts.
    pub limits: listener::ConnectionLimits,
    /// Clients the public rate limit remembers at most; beyond that it forgets the
    /// least recently seen (never refuses everyone).
    pub public_limiter_capacity: usize,
    /// Peers whose `Forwarded` / `X-Forwarded-For` header names the client address.
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// The C2SP tiles directory served under `/tlog/` (and receipts built from it).
    pub tlog_dir: Option<std::path::PathBuf>,
    /// The origin staff open the service at (`https://ledger.example`): the WebAuthn
    /// relying party. Without it passkeys work only at `http://localhost:PORT`.
    pub public_origin: Option<String>,
    /// Whether the staff pages still take a token at `/staff/login` (no second factor).
    /// On in this struct's default, which tests sign in with; `serve` turns it off
    /// unless `--token-sign-in` or `--demo`, so people sign in with their accounts.
    pub token_sign_in: bool,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            body_limit: 256 * 1024,
            request_timeout: Duration::from_secs(30),
            // The national lines every deployment lists; the Task Force's own tip line
            // is the deployment's (`serve --hotline`, required outside `--demo`), so
            // no placeholder number can reach the public page.
            hotlines: vec![
                Hotline {
                    label: "NCMEC CyberTipline".into(),
                    number: "1-800-843-5678".into(),
                },
                Hotline {
                    label: "A child in immediate danger".into(),
                    number: "911".into(),
                },
            ],
            public_reports_per_window: 5,
            public_window: Duration::from_secs(10 * 60),
            deadline_policy: DeadlinePolicy::default(),
            sharing_policy: Default::default(),
            secure_cookies: false,
            limits: listener::ConnectionLimits {
                max_connections: 512,
                header_read_timeout: Duration::from_secs(10),
                idle_timeout: Duration::from_secs(60),
            },
            public_limiter_capacity: 100_000,
            trusted_proxies: Vec::new(),
            tlog_dir: None,
            public_origin: None,
            token_sign_in: true,
        }
    }
}

/// Checks of the web form as it is typed that one token may ask for per minute: the
/// page's script asks at most once per pause in typing, so only a script run wild (or
/// someone scripting the endpoint) meets the limit.
pub const FORM_CHECKS_PER_MINUTE: u32 = 120;

/// Everything a handler may reach; shared behind an `Arc`.
pub struct AppState {
    pub commands: Commands,
    pub ledger: Ledger,
    pub tokens: TokenStore,
    /// Staff accounts, their factors and lockouts (schema 10).
    pub accounts: crate::access::accounts::AccountStore,
    pub sessions: sessions::SessionStore,
    /// The web form's drafts and submission claims (outside the ledger).
    pub web_forms: web_forms::WebForms,
    /// The dashboard's figures per ledger position (`pages::dashboard`).
    pub dashboard_cache: pages::dashboard::FiguresCache,
    pub access_log: AccessLog,
    pub projections: ProjectionRunner,
    pub config: ServerConfig,
    pub metrics: Metrics,
    pub public_limiter: RateLimiter,
    /// The web form's checks as it is typed, per token (`pages::notification::check`).
    pub form_checks: RateLimiter,
    /// Publication to witnesses: what the status, metrics and ledger page show.
    pub publication: crate::tlog::publisher::Publication,
}

pub type SharedState = Arc<AppState>;

impl AppState {
    /// Builds the state over an open ledger: command frameworks, token store, access
    /// log, and the projection runner caught up to the head.
    pub async fn open(ledger: Ledger, config: ServerConfig) -> Result<SharedState, ServeError> {
        let storage = ledger.storage().clone();
        let id = ledger.id().clone();
        let commands = Commands::open(ledger.clone()).await?;
        // What a stopped process left undone between a filing, its registration and its
        // matches (the next filing of a value would record its matches too).
        let actor = crate::commands::Actor::system(
            "deconfliction:reconcile",
            format!("reconcile-{}", jiff::Timestamp::now().as_nanosecond()),
        );
        match crate::commands::deconfliction::reconcile(&commands, &actor).await {
            Ok(done) if done == Default::default() => {}
            Ok(done) => tracing::warn!(
                registered = done.registered,
                matches = done.matches,
                "deconfliction: registered filed cases and recorded matches missing at start-up"
            ),
            Err(e) => {
                tracing::error!(error = %e, "could not reconcile deconfliction matches at start-up");
            }
        }
        let access_log = AccessLog::new(storage.clone(), id.clone());
        let tokens = TokenStore::new(storage.clone(), id.clone(), access_log.clone());
        let accounts = crate::access::accounts::AccountStore::new(
            storage.clone(),
            id.clone(),
            access_log.clone(),
        );
        let sessions = sessions::SessionStore::new(storage.clone(), id.clone(), tokens.clone());
        let web_forms = web_forms::WebForms::new(storage.clone(), id.clone());
        let projections = ProjectionRunner::open(storage, id).await?;
        projections.catch_up().await?;
        let public_limiter = RateLimiter::new(
            config.public_reports_per_window,
            config.public_window,
            config.public_limiter_capacity,
        );
        Ok(Arc::new(AppState {
            commands,
            ledger,
            tokens,
            accounts,
            sessions,
            web_forms,
            dashboard_cache: Default::default(),
            access_log,
            projections,
            config,
            metrics: Metrics::default(),
            public_limiter,
            form_checks: RateLimiter::new(FORM_CHECKS_PER_MINUTE, Duration::from_secs(60), 10_000),
            publication: Default::default(),
        }))
    }

    /// The key checkpoints, proofs and exports are signed with: the writer's, which
    /// follows rotations.
    pub fn key(&self) -> Arc<LedgerKey> {
        self.ledger.signing_key()
    }

    /// Brings the view tables up to the ledger head (folding what the runner has not
    /// seen and writing what it has not written), so a read of the tables right after a
    /// write sees it.
    pub async fn fresh_views(&self) -> Result<(), problem::Problem> {
        self.projections
            .catch_up()
            .await
            .map(|_| ())
            .map_err(problem::Problem::internal)
    }

    /// Brings the runner's working set up to the ledger head without writing it: enough
    /// for `ProjectionRunner::case_view`, which looks there before the table.
    pub async fn fresh_view(&self) -> Result<(), problem::Problem> {
        self.projections
            .refresh()
            .await
            .map(|_| ())
            .map_err(problem::Problem::internal)
    }
}

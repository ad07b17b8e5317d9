//! `serve`: run the HTTP service. `--demo` starts on the default database with the demo
//! year loaded (unless the ledger already has data) and a token for every role.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;

use super::deadline_policy::{DeadlinePolicyArgs, SharingPolicyArgs};
use super::init::open_or_initialise_demo;
use super::progress::Progress;
use super::CliError;
use crate::access::auth::Role;
use crate::commands::demo;
use crate::config::LedgerArgs;
use crate::http::listener::ConnectionLimits;
use crate::http::{server, AppState, Hotline, ServerConfig};
use crate::tlog::publisher::{self, PublicationConfig};

/// Cases the demo loads: enough for a living dashboard, quick to generate.
pub const DEMO_CASES: usize = 300;
// The statute's number, 29-7.
#[allow(clippy::inconsistent_digit_grouping)]
const DEMO_SEED: u64 = 29_7;
/// The unit the demo's unit reporter token is bound to (a demo unit; see `demo::generate`).
const DEMO_UNIT_FALLBACK: &str = "CT0001500";

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub addr: SocketAddr,
    /// Load the demo data (if the ledger is empty) and print a token for every role
    #[arg(long)]
    pub demo: bool,
    /// Cases for --demo
    #[arg(long, default_value_t = DEMO_CASES, requires = "demo")]
    pub demo_cases: usize,
    /// A hotline for the public page, "LABEL=NUMBER"; repeat for several (listed before
    /// NCMEC's and 911). Required outside --demo: the Task Force's own tip line
    #[arg(long, value_name = "LABEL=NUMBER")]
    pub hotline: Vec<String>,
    /// Largest request body, in KiB
    #[arg(long, default_value_t = 256)]
    pub body_limit_kib: usize,
    /// Request timeout, in seconds
    #[arg(long, default_value_t = 30)]
    pub timeout_secs: u64,
    /// Public reports allowed per client address per 10 minutes
    #[arg(long, default_value_t = 5)]
    pub public_reports_per_10min: u32,
    /// Mark the staff session cookie Secure (when served behind TLS)
    #[arg(long)]
    pub secure_cookies: bool,
    /// The origin staff open the service at (e.g. https://ledger.example): the passkey
    /// (WebAuthn) relying party. Without it passkeys work only at http://localhost:PORT
    #[arg(long)]
    pub public_origin: Option<String>,
    /// Also let the staff pages take a bearer token at /staff/login, with no second
    /// factor (for a deployment moving people over to accounts; on with --demo). Without
    /// it people sign in only with their account and its second factor (CJIS IA-2(1));
    /// tokens always work for the API
    #[arg(long)]
    pub token_sign_in: bool,
    /// Open connections at most; a connection beyond this is closed at once
    #[arg(long, default_value_t = 512)]
    pub max_connections: usize,
    /// Seconds a client may take to send a request's headers (also the keep-alive wait)
    #[arg(long, default_value_t = 10)]
    pub header_read_timeout_secs: u64,
    /// Seconds a connection may stay open with no request in flight and no traffic
    #[arg(long, default_value_t = 60)]
    pub idle_timeout_secs: u64,
    /// A reverse proxy whose Forwarded / X-Forwarded-For header names the client; repeat for several
    #[arg(long, value_name = "IP")]
    pub trusted_proxy: Vec<std::net::IpAddr>,
    /// Write a signed checkpoint after this many new events...
    #[arg(long, default_value_t = 10_000)]
    pub checkpoint_every_events: u64,
    /// ...or after this many seconds with new events, whichever comes first
    #[arg(long, default_value_t = 60)]
    pub checkpoint_every_secs: u64,
    /// Publish the log as C2SP tiles in this directory, served under /tlog/ (and receipts)
    #[arg(long, value_name = "DIR")]
    pub tlog_dir: Option<std::path::PathBuf>,
    /// A C2SP tlog-policy file: publish a checkpoint only once its witness quorum cosigned
    #[arg(long, value_name = "FILE", requires = "tlog_dir")]
    pub witness_policy: Option<std::path::PathBuf>,
    /// Alert when the last witnessed checkpoint is older than this many seconds
    #[arg(long, default_value_t = 3600)]
    pub witness_max_age_secs: u64,
    /// Seconds to wait for a witness's answer
    #[arg(long, default_value_t = 10)]
    pub witness_timeout_secs: u64,
    /// Seconds between attempts while a witness is unreachable
    #[arg(long, default_value_t = 5)]
    pub witness_retry_secs: u64,
    /// The deadline policy every compliance answer uses unless a request names its own
    #[command(flatten)]
    pub policy: DeadlinePolicyArgs,
    #[command(flatten)]
    pub sharing: SharingPolicyArgs,
}

fn publication(args: &ServeArgs) -> Result<Option<PublicationConfig>, CliError> {
    let Some(dir) = &args.tlog_dir else {
        return Ok(None);
    };
    let policy = match &args.witness_policy {
        Some(p) => Some(crate::tlog::read_policy(p)?),
        None => None,
    };
    let config = PublicationConfig {
        dir: dir.clone(),
        policy,
        max_age: Duration::from_secs(args.witness_max_age_secs.max(1)),
        witness_timeout: Duration::from_secs(args.witness_timeout_secs.clamp(1, 600)),
        retry: Duration::from_secs(args.witness_retry_secs.clamp(1, 3600)),
    };
    config.check()?;
    Ok(Some(config))
}

fn config(args: &ServeArgs) -> Result<ServerConfig, CliError> {
    let mut config = ServerConfig {
        body_limit: args.body_limit_kib.clamp(1, 16 * 1024) * 1024,
        request_timeout: Duration::from_secs(args.timeout_secs.clamp(1, 600)),
        public_reports_per_window: args.public_reports_per_10min.max(1),
        secure_cookies: args.secure_cookies,
        public_origin: args.public_origin.clone(),
        // Multi-factor sign-in for people unless asked otherwise; the demo hands out a
        // token per role to try the pages with.
        token_sign_in: args.token_sign_in || args.demo,
        limits: ConnectionLimits {
            max_connections: args.max_connections.clamp(1, 1 << 20),
            header_read_timeout: Duration::from_secs(args.header_read_timeout_secs.clamp(1, 600)),
            idle_timeout: Duration::from_secs(args.idle_timeout_secs.clamp(1, 3600)),
        },
        trusted_proxies: args.trusted_proxy.clone(),
        tlog_dir: args.tlog_dir.clone(),
        deadline_policy: args.policy.policy().map_err(|e| e.to_string())?,
        sharing_policy: args
            .sharing
            .policy()
            .map_err(|e| format!("--sharing-cadence-days: {e}"))?,
        ..ServerConfig::default()
    };
    let own: Vec<Hotline> = if args.hotline.is_empty() {
        vec![Hotline {
            label: "Connecticut ICAC Task Force tip line (demo: a fictional 555 number)".into(),
            number: "1-800-555-0142".into(),
        }]
    } else {
        args.hotline
            .iter()
            .map(|h| {
                let (label, number) = h
                    .split_once('=')
                    .ok_or_else(|| format!("--hotline {h:?} must be LABEL=NUMBER"))?;
                if label.len() > 120 || number.len() > 40 {
                    return Err(format!("--hotline {h:?} is too long"));
                }
                Ok(Hotline {
                    label: label.trim().to_owned(),
                    number: number.trim().to_owned(),
                })
            })
            .collect::<Result<_, String>>()?
    };
    config.hotlines.splice(0..0, own);
    Ok(config)
}

pub async fn run(ledger_args: &LedgerArgs, args: &ServeArgs) -> Result<ExitCode, CliError> {
    let config = config(args)?;
    // A policy that can never be met is refused before anything starts.
    let publishing = publication(args)?;
    // Only --demo sets a ledger up; a plain `serve` changes no schema and writes no key,
    // so it runs as the application role after `init` or `migrate` as the owner.
    let ledger = if args.demo {
        open_or_initialise_demo(ledger_args).await?
    } else {
        ledger_args.open().await?
    };
    // Checked once the ledger and policy are known good, so their errors come first.
    if args.hotline.is_empty() && !args.demo {
        return Err("--hotline \"LABEL=NUMBER\" is required: the public page must list the Task Force's own tip line (only --demo runs without one)".into());
    }
    let state = AppState::open(ledger, config).await?;
    let demo = if args.demo {
        Some(prepare_demo(&state, args.demo_cases).await?)
    } else {
        None
    };
    let listener = tokio::net::TcpListener::bind(args.addr).await?;
    let local = listener.local_addr()?;
    print_banner(&state, local, demo.as_ref());
    let background = Background::start(&state, args, publishing, local);
    outln!("press ctrl-c to stop");
    server::serve(listener, state, server::shutdown_signal()).await?;
    background.stop();
    outln!("stopped");
    Ok(ExitCode::SUCCESS)
}

/// What `--demo` hands the person trying it: a token per role, and a staff account's
/// password the first time.
struct DemoAccess {
    tokens: Vec<(Role, Option<String>, String)>,
    account_password: Option<String>,
}

/// Loads the demo year into an empty ledger, then issues the demo's tokens and account.
async fn prepare_demo(state: &AppState, cases: usize) -> Result<DemoAccess, CliError> {
    let head = state.ledger.head().await?;
    // Only the genesis (and key) events: an empty ledger gets the demo year.
    if head.position <= 1 {
        load_demo_year(state, cases).await?;
    } else {
        outln!(
            "the ledger already has {} events; not loading demo data again",
            head.position
        );
    }
    state.projections.catch_up().await?;
    let unit = state
        .projections
        .units()
        .await?
        .into_iter()
        .find(|u| u.active)
        .map(|u| u.ori.clone())
        .or_else(|| icac_aggregates::ids::Ori::parse(DEMO_UNIT_FALLBACK).ok());
    let mut tokens = Vec::new();
    for role in Role::ALL {
        let unit = role.is_unit_bound().then(|| unit.clone()).flatten();
        let name = format!("demo {}", role.as_str().replace('_', " "));
        let issued = state
            .tokens
            .issue(role, unit, &name, "cli:serve-demo")
            .await?;
        tokens.push((role, issued.info.unit.clone(), issued.token));
    }
    // A staff account to try the account sign-in with (once per demo ledger).
    let mut account_password = None;
    if state.accounts.get("demo.supervisor").await?.is_none() {
        let by = crate::access::accounts::Actor::cli("cli:serve-demo".into());
        let now = jiff::Timestamp::now().as_second();
        let created = state
            .accounts
            .create("demo.supervisor", Role::Supervisor, None, &by, now)
            .await?;
        account_password = Some(created.password);
    }
    Ok(DemoAccess {
        tokens,
        account_password,
    })
}

async fn load_demo_year(state: &AppState, cases: usize) -> Result<(), CliError> {
    outln!("loading the demo year ({cases} cases)...");
    let bar = Progress::new("demo", 0, "commands");
    let summary = demo::run(&state.commands, cases, DEMO_SEED, |done, total| {
        if bar.is_drawn() {
            if done == 1 {
                bar.restart("demo", total as u64);
            }
            bar.set(done as u64);
        } else if done % 500 == 0 || done == total {
            outln!("  {done}/{total} commands");
        }
    })
    .await?;
    bar.finish();
    outln!(
        "demo loaded: {} commands ({} refused by the rules)",
        summary.commands,
        summary.rejected
    );
    Ok(())
}

fn print_banner(state: &AppState, local: SocketAddr, demo: Option<&DemoAccess>) {
    outln!(
        "icac-ledger serving ledger {} on http://{local}/",
        state.ledger.id()
    );
    outln!("  public reporting page  http://{local}/");
    outln!("  staff pages            http://{local}/staff  (sign in with an account or a token)");
    outln!("  API description        http://{local}/v1/openapi.json");
    let Some(demo) = demo else { return };
    outln!("demo tokens (shown once; new ones are issued on every start):");
    for (role, unit, token) in &demo.tokens {
        let unit = unit
            .as_deref()
            .map(|u| format!(" [{u}]"))
            .unwrap_or_default();
        outln!("  {:<14}{unit:<12} {token}", role.as_str());
    }
    outln!("try: curl -H 'Authorization: Bearer <token>' http://{local}/v1/whoami");
    if let Some(password) = &demo.account_password {
        outln!(
            "demo staff account (shown once): sign in at http://localhost:{}/staff/signin as demo.supervisor with {password}",
            local.port()
        );
    }
}

/// The tasks that run beside the server: the checkpointer, the C2SP publisher (with
/// `--tlog-dir`) and the accounts' inactivity sweep.
struct Background {
    tasks: Vec<tokio::task::AbortHandle>,
}

impl Background {
    fn start(
        state: &AppState,
        args: &ServeArgs,
        publishing: Option<PublicationConfig>,
        local: SocketAddr,
    ) -> Self {
        // Auditors get a fresh signed checkpoint every N events or T seconds; with
        // --tlog-dir each one goes to the publisher (tiles, witnesses, quorum).
        let (cuts_tx, cuts_rx) = tokio::sync::watch::channel(None);
        let mut tasks = vec![crate::audit::checkpointer::spawn_publishing(
            &state.ledger,
            crate::audit::checkpointer::Schedule {
                every_events: args.checkpoint_every_events.max(1),
                every: Duration::from_secs(args.checkpoint_every_secs.max(1)),
            },
            publishing.is_some().then_some(cuts_tx),
        )
        .abort_handle()];
        if let Some(p) = publishing {
            outln!(
                "  C2SP tiles             http://{local}/tlog/checkpoint  (from {}, quorum {})",
                p.dir.display(),
                p.policy
                    .as_ref()
                    .map_or("none".into(), icac_format::policy::Policy::quorum_name)
            );
            let publisher = publisher::run(
                state.ledger.storage().clone(),
                state.ledger.id().clone(),
                p,
                state.publication.clone(),
                cuts_rx,
            );
            let task = tokio::spawn(async move {
                if let Err(e) = publisher.await {
                    tracing::error!(error = %e, "the C2SP publisher stopped");
                }
            });
            tasks.push(task.abort_handle());
        }
        // AC-2(3): accounts unused for 90 days are disabled, checked every six hours.
        let sweep = crate::access::accounts::spawn_inactivity_sweep(
            state.accounts.clone(),
            crate::access::accounts::SWEEP_EVERY,
        );
        tasks.push(sweep.abort_handle());
        Background { tasks }
    }

    fn stop(self) {
        for task in self.tasks {
            task.abort();
        }
    }
}

//! `witness`: run a C2SP tlog-witness (`serve`), make its key (`keygen`), and read the
//! evidence it kept of inconsistent checkpoints (`evidence`). The key is `--key`, the
//! global key flag: a witness's own Ed25519 key, never a ledger's.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Subcommand;

use super::CliError;
use crate::config::LedgerArgs;
use crate::ledger::key_file::KeyFile;
use crate::witness::server::{router, Witness};
use crate::witness::state::WitnessState;
use icac_format::checkpoint::NoteVerifier;
use icac_format::cosignature::CosignerKey;
use icac_format::keys::LedgerKey;

#[derive(Debug, Subcommand)]
pub enum WitnessCommand {
    /// Write a new witness key to --key (must not exist) and print its vkey for policies
    Keygen {
        /// The witness's name (a schema-less URL, e.g. witness.apa.ct.gov/w1)
        #[arg(long)]
        name: String,
    },
    /// Serve add-checkpoint and the monitoring checkpoint
    Serve {
        #[arg(long)]
        name: String,
        /// The witness's state file (SQLite), on the witness's own storage
        #[arg(long, value_name = "DB")]
        state: PathBuf,
        /// A log's vkey (as `keys vkey` prints it); repeat for several logs
        #[arg(long = "log", value_name = "VKEY", required = true)]
        logs: Vec<String>,
        #[arg(long, default_value = "127.0.0.1:8090")]
        addr: SocketAddr,
        /// Open connections at most; a connection beyond this is closed at once
        #[arg(long, default_value_t = 256)]
        max_connections: usize,
    },
    /// Print the inconsistent checkpoints the witness was shown, one JSON object a line
    Evidence {
        #[arg(long, value_name = "DB")]
        state: PathBuf,
    },
}

pub async fn run(args: &LedgerArgs, cmd: WitnessCommand) -> Result<ExitCode, CliError> {
    match cmd {
        WitnessCommand::Keygen { name } => {
            let key = LedgerKey::generate();
            let vkey = CosignerKey::new(&name, key.public())?.to_vkey();
            key.save_new(&args.key)?;
            outln!("{vkey}");
        }
        WitnessCommand::Serve {
            name,
            state,
            logs,
            addr,
            max_connections,
        } => {
            let logs = logs
                .iter()
                .map(|v| {
                    NoteVerifier::from_verifier_key(v).map_err(|e| format!("--log {v:?}: {e}"))
                })
                .collect::<Result<Vec<_>, _>>()?;
            let key = LedgerKey::load(&args.key)?;
            let witness = Arc::new(Witness {
                name,
                key: key.signing_key().clone(),
                logs,
                state: WitnessState::open(&state).await?,
            });
            let listener = tokio::net::TcpListener::bind(addr).await?;
            outln!(
                "witness {} on http://{}/",
                witness.vkey()?,
                listener.local_addr()?
            );
            // The API's accept loop: a connection cap, header-read and idle timeouts.
            let limits = crate::http::listener::ConnectionLimits {
                max_connections: max_connections.clamp(1, 1 << 16),
                header_read_timeout: std::time::Duration::from_secs(10),
                idle_timeout: std::time::Duration::from_secs(60),
            };
            crate::http::listener::run(
                listener,
                router(witness.clone()),
                limits,
                crate::http::server::shutdown_signal(),
                std::time::Duration::from_secs(31),
            )
            .await?;
            witness.state.close().await;
        }
        WitnessCommand::Evidence { state } => {
            if !state.exists() {
                return Err(format!("{} does not exist", state.display()).into());
            }
            let st = WitnessState::open(&state).await?;
            for e in st.evidence().await? {
                outln!("{}", serde_json::to_string(&e)?);
            }
            st.close().await;
        }
    }
    Ok(ExitCode::SUCCESS)
}

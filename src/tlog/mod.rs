//! The ledger as a C2SP transparency log: its Merkle tree as tiles (`tiles`), each
//! checkpoint sent to the witnesses of a tlog-policy and published once their quorum
//! cosigned it (`publisher`, over `witness_client`), and filing receipts in tlog-proof
//! format (`receipt`). The formats themselves are in `icac_format` (`tiles`,
//! `cosignature`, `policy`, `witness`, `receipt`).

pub mod publisher;
pub mod receipt;
pub mod tiles;
pub mod witness_client;

use std::path::Path;

use icac_format::policy::Policy;

/// Reads a policy file (at most `MAX_POLICY_BYTES`).
pub fn read_policy(path: &Path) -> Result<Policy, String> {
    let meta =
        std::fs::metadata(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    if meta.len() > icac_format::policy::MAX_POLICY_BYTES as u64 {
        return Err(format!("{} is larger than a policy may be", path.display()));
    }
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    Policy::parse(&text).map_err(|e| format!("{}: {e}", path.display()))
}

/// Accepts a checkpoint note only if it is signed by a log of the policy and cosigned by
/// its quorum; says which witnesses cosigned, or why not.
pub fn require_quorum(policy: &Policy, note: &str) -> Result<Vec<String>, String> {
    policy
        .accept(note)
        .map(|a| a.witnesses)
        .map_err(|e| e.to_string())
}

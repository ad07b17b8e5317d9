//! What auditors use: full verification, checkpoints, proofs and export bundles.

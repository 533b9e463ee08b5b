//! Integration tests of privctl-vault: the format, the vault on every store,
//! the forensic reader, and the upgrade of privctl 0.1's vaults.

mod common;
mod forensic;
mod format;
mod migrate;
mod tokens;
mod vault;

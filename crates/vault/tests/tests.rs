//! Integration tests of privctl-vault: the format, and the vault on every store.

mod format;
mod vault;

//! Integration tests of privctl-redact: one binary, a module per concern.

mod corpus;
mod detectors;
mod leak;
mod operators;
mod stream;
mod structured;
mod truth;

//! A faithful loopback Salesforce for tests, benchmarks and the demo (server being written).
#![deny(missing_docs)]

pub mod error;
pub mod ids;
pub mod schema;
pub mod sessions;
pub mod store;

pub use error::{Error, Result};

//! Callpop `salesforce` crate (being written).

//! Callpop `cti` crate (being written).

//! Callpop `store` crate (being written).

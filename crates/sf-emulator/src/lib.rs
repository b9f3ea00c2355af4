//! Callpop `sf-emulator` crate (being written).

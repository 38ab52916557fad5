//! AML credential issuer node.
pub mod config;
pub mod lists;
pub mod screening;
pub mod specs;
pub mod store;

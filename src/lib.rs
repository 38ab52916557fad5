//! AML credential issuer node.
pub mod lists;
pub mod screening;
pub mod specs;

//! AML credential issuer node.
pub mod lists;

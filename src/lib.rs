//! AML credential issuer node.
pub mod keys;
pub mod lists;
pub mod seal;
pub mod credentials;
pub mod claims;

//! AML credential issuer node.
//!
//! One module per concept of the flow: `lists` (watchlist importers) and `screening` (the AML
//! engine) decide; `specs` says what an officer requires; `claims` checks what a holder
//! presents; `seal` encrypts inputs to the officer; `credentials` issues and verifies what
//! relying parties check; `store` keeps state; `config` and `keys` set the node up.
pub mod claims;
pub mod config;
pub mod credentials;
pub mod keys;
pub mod lists;
pub mod screening;
pub mod seal;
pub mod specs;
pub mod store;

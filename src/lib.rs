//! AML credential issuer node.
//!
//! One module per concept of the flow:
//!
//! - deciding: `lists` (watchlist importers), `screening` (the AML engine), `watchlists`
//!   (the live, swappable snapshot the node screens against);
//! - what officers require and what holders present: `specs`, `claims`;
//! - a holder's request end to end: `requests`, with its check in `cases`;
//! - protecting and issuing: `seal` (inputs encrypted to the officer), `credentials` (the
//!   AML credential, certificates, status lists, DID/JWKS documents), `issuer` (the officer
//!   as issuer: status positions, issuance, revocation, verification);
//! - the node itself: `node` (everything built from a `config`), `auth` (API tokens),
//!   `officers`, `store`, `clock`, `error`, `metrics`, and `api` (the HTTP adapter).
pub mod api;
pub mod audit;
pub mod auth;
pub mod cases;
pub mod claims;
pub mod client;
pub mod clock;
pub mod config;
pub mod credentials;
pub mod error;
pub mod issuer;
pub mod keys;
pub mod lists;
pub mod metrics;
pub mod monitoring;
pub mod node;
pub mod officers;
pub mod profiles;
pub mod requests;
pub mod screening;
pub mod seal;
pub mod specs;
pub mod store;
pub mod watchlists;
pub mod webhooks;

//! From verified KYC credentials to the claims a spec requires, and from those claims to the
//! screening query.
//!
//! A claim counts only when a credential from an issuer the spec accepts *for that claim*
//! carries it. Claims the spec does not require are ignored (and never sealed or stored): the
//! node takes no more personal data than the officer asked for.

use std::collections::BTreeMap;

use serde_json::{Value, json};
use zeroize::Zeroize;

use crate::claims::VerifiedKycCredential;
use crate::error::{Error, Result};
use crate::lists::PartialDate;
use crate::screening::{Query, SubjectType};
use crate::specs::Spec;

/// One required claim and where it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct ClaimValue {
    pub value: Value,
    pub issuer: String,
}

/// The required claims of a request, verified and accepted.
#[derive(Debug, Default)]
pub struct CollectedClaims {
    pub values: BTreeMap<String, ClaimValue>,
}

impl Drop for CollectedClaims {
    fn drop(&mut self) {
        for v in self.values.values_mut() {
            wipe(&mut v.value);
        }
    }
}

/// Overwrites the strings of a JSON value (best effort: personal data should not linger in
/// freed memory longer than needed).
pub fn wipe(v: &mut Value) {
    match v {
        Value::String(s) => s.zeroize(),
        Value::Array(a) => a.iter_mut().for_each(wipe),
        Value::Object(o) => o.values_mut().for_each(wipe),
        _ => {}
    }
}

/// Collects the spec's required claims from the credentials. Missing claims are answered
/// with each one, the issuers accepted for it, and the issuers that presented it but are not
/// accepted.
pub fn collect(spec: &Spec, credentials: &[VerifiedKycCredential]) -> Result<CollectedClaims> {
    let mut out = CollectedClaims::default();
    let mut missing = Vec::new();
    for claim in &spec.required_claims {
        let accepted = spec.issuers_for(claim);
        let mut found: Option<ClaimValue> = None;
        let mut refused: Vec<&str> = Vec::new();
        for c in credentials {
            let Some(value) = c.claims.get(claim) else { continue };
            if !accepted.contains(&c.issuer.as_str()) {
                if !refused.contains(&c.issuer.as_str()) {
                    refused.push(&c.issuer);
                }
                continue;
            }
            match &found {
                Some(f) if f.value != *value => {
                    return Err(Error::unprocessable(
                        "claims_conflict",
                        format!("accepted credentials disagree on `{claim}`"),
                    )
                    .with_details(json!({"claim": claim, "issuers": [f.issuer, c.issuer]})));
                }
                Some(_) => {}
                None => found = Some(ClaimValue { value: value.clone(), issuer: c.issuer.clone() }),
            }
        }
        match found {
            Some(v) => {
                out.values.insert(claim.clone(), v);
            }
            None => missing.push(json!({
                "claim": claim,
                "accepted_issuers": accepted,
                "presented_by_unaccepted_issuers": refused,
            })),
        }
    }
    if !missing.is_empty() {
        let names: Vec<&str> = missing.iter().filter_map(|m| m["claim"].as_str()).collect();
        return Err(Error::unprocessable(
            "claims_missing",
            format!(
                "missing claims: {}; present a credential from an accepted issuer for each (nothing was screened)",
                names.join(", ")
            ),
        )
        .with_details(json!({"missing": missing})));
    }
    Ok(out)
}

fn invalid(claim: &str, reason: &str) -> Error {
    Error::unprocessable("claim_invalid", format!("claim `{claim}`: {reason}"))
        .with_details(json!({"claim": claim, "reason": reason}))
}

fn text<'a>(claims: &'a CollectedClaims, claim: &str) -> Result<Option<&'a str>> {
    match claims.values.get(claim).map(|c| &c.value) {
        None => Ok(None),
        Some(Value::String(s)) if !s.trim().is_empty() && s.chars().count() <= 300 => Ok(Some(s.trim())),
        Some(_) => Err(invalid(claim, "expected a non-empty string of at most 300 characters")),
    }
}

fn country(claim: &str, v: &Value) -> Result<String> {
    match v {
        Value::String(s) if s.len() == 2 && s.bytes().all(|b| b.is_ascii_alphabetic()) => Ok(s.to_ascii_uppercase()),
        _ => Err(invalid(claim, "expected an ISO 3166-1 alpha-2 country code")),
    }
}

impl CollectedClaims {
    /// The screening query of a person with these claims.
    pub fn to_query(&self) -> Result<Query> {
        if let Some(v) = self.values.get("liveness")
            && v.value != Value::Bool(true)
        {
            return Err(Error::unprocessable("claim_liveness_failed", "the liveness check did not pass"));
        }
        let name = match text(self, "fullName")? {
            Some(full) => Some(full.to_owned()),
            None => {
                let parts: Vec<&str> =
                    [text(self, "givenName")?, text(self, "familyName")?].into_iter().flatten().collect();
                (!parts.is_empty()).then(|| parts.join(" "))
            }
        };
        let birth_date = match text(self, "birthDate")? {
            Some(d) => Some(
                PartialDate::parse_iso(d)
                    .ok_or_else(|| invalid("birthDate", "expected YYYY, YYYY-MM or YYYY-MM-DD"))?,
            ),
            None => None,
        };
        let mut countries = Vec::new();
        match self.values.get("nationality").map(|c| &c.value) {
            None => {}
            Some(Value::Array(a)) if !a.is_empty() && a.len() <= 8 => {
                for v in a {
                    countries.push(country("nationality", v)?);
                }
            }
            Some(v) => countries.push(country("nationality", v)?),
        }
        if let Some(c) = self.values.get("countryOfResidence") {
            countries.push(country("countryOfResidence", &c.value)?);
        }
        countries.dedup();
        let query = Query {
            id: None,
            name,
            entity_type: Some(SubjectType::Person),
            birth_date,
            countries,
            document_number: text(self, "documentNumber")?.map(str::to_owned),
            wallet_address: text(self, "walletAddress")?.map(str::to_owned),
        };
        query.validate().map_err(|e| Error::unprocessable(e.code(), format!("the claims cannot be screened: {e}")))?;
        Ok(query)
    }

    /// The claims as sealed for the officer: value and issuer of each.
    pub fn to_sealed_json(&self) -> Value {
        Value::Object(
            self.values.iter().map(|(k, v)| (k.clone(), json!({"value": v.value, "issuer": v.issuer}))).collect(),
        )
    }
}

/// Overwrites the personal data of a query.
pub fn wipe_query(q: &mut Query) {
    for s in [&mut q.name, &mut q.document_number, &mut q.wallet_address].into_iter().flatten() {
        s.zeroize();
    }
    q.birth_date = None;
    q.countries.clear();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::credentials::CredentialFormat;
    use crate::screening::Policy;
    use crate::specs::SpecStatus;

    const A: &str = "did:key:z6MkAccepted";
    const B: &str = "did:key:z6MkOther";

    fn spec(claims: &[&str]) -> Spec {
        Spec {
            id: "t-spec".into(),
            version: 1,
            officer: "o".into(),
            name: "T".into(),
            description: String::new(),
            required_claims: claims.iter().map(|c| c.to_string()).collect(),
            accepted_issuers: BTreeMap::from([("*".to_string(), vec![A.to_string()])]),
            policy: Policy::default(),
            credential_format: CredentialFormat::Jose,
            credential_validity_secs: 86400,
            certificate_validity_secs: 3600,
            monitoring: false,
            status: SpecStatus::Active,
        }
    }

    fn cred(issuer: &str, claims: Value) -> VerifiedKycCredential {
        VerifiedKycCredential {
            issuer: issuer.into(),
            format: CredentialFormat::Jose,
            claims: claims.as_object().unwrap().clone().into_iter().collect(),
            valid_until: None,
        }
    }

    #[test]
    fn missing_claims_name_who_can_provide_them() {
        let s = spec(&["givenName", "familyName", "birthDate", "liveness"]);
        let creds = [
            cred(A, json!({"givenName": "Ada", "familyName": "Lovelace", "extra": "ignored"})),
            cred(B, json!({"birthDate": "1815-12-10"})),
        ];
        let e = collect(&s, &creds).unwrap_err();
        assert_eq!((e.status(), e.code), (422, "claims_missing"));
        let d = e.details.unwrap();
        assert_eq!(d["missing"].as_array().unwrap().len(), 2);
        assert_eq!(d["missing"][0]["claim"], "birthDate");
        assert_eq!(d["missing"][0]["accepted_issuers"][0], A);
        assert_eq!(d["missing"][0]["presented_by_unaccepted_issuers"][0], B);
        assert_eq!(d["missing"][1]["claim"], "liveness");
    }

    #[test]
    fn claims_become_a_query() {
        let s = spec(&["givenName", "familyName", "birthDate", "nationality", "documentNumber", "liveness"]);
        let creds = [cred(
            A,
            json!({"givenName": "Ada", "familyName": "Lovelace", "birthDate": "1815-12", "nationality": ["gb", "FR"],
                   "documentNumber": "P123", "liveness": true, "address": "not required, not taken"}),
        )];
        let c = collect(&s, &creds).unwrap();
        assert!(!c.values.contains_key("address"));
        let q = c.to_query().unwrap();
        assert_eq!(q.name.as_deref(), Some("Ada Lovelace"));
        assert_eq!(q.birth_date, PartialDate::parse_iso("1815-12"));
        assert_eq!(q.countries, vec!["GB", "FR"]);
        assert_eq!(q.document_number.as_deref(), Some("P123"));
        assert_eq!(c.to_sealed_json()["givenName"]["issuer"], A);
    }

    #[test]
    fn bad_values_are_refused() {
        let s = spec(&["fullName", "birthDate", "liveness"]);
        let code = |v: Value| collect(&s, &[cred(A, v)]).and_then(|c| c.to_query()).unwrap_err().code;
        assert_eq!(code(json!({"fullName": "A B", "birthDate": "10/12/1815", "liveness": true})), "claim_invalid");
        assert_eq!(code(json!({"fullName": 7, "birthDate": "1815", "liveness": true})), "claim_invalid");
        assert_eq!(code(json!({"fullName": "A B", "birthDate": "1815", "liveness": false})), "claim_liveness_failed");
        assert_eq!(code(json!({"fullName": "...", "birthDate": "1815", "liveness": true})), "query_name_empty");
        let conflict = collect(
            &s,
            &[
                cred(A, json!({"fullName": "A B", "birthDate": "1815", "liveness": true})),
                cred(A, json!({"fullName": "C D"})),
            ],
        )
        .unwrap_err();
        assert_eq!(conflict.code, "claims_conflict");
    }
}

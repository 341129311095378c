//! The `CdrType` enum and which union member answers each type.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::record::RecordKind;

/// The kind of CDR asked for with the `type` argument of `cdrRecords`.
///
/// Sent as the uppercase GraphQL enum value (`SMS`, `MMS`, `VOICE`, `API`);
/// parsed case-insensitively from user input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum CdrType {
    Sms,
    Mms,
    Voice,
    Api,
}

impl CdrType {
    /// Every type, in a stable order.
    pub const ALL: [CdrType; 4] = [CdrType::Sms, CdrType::Mms, CdrType::Voice, CdrType::Api];

    /// The GraphQL enum value, e.g. `SMS`.
    pub const fn as_str(self) -> &'static str {
        match self {
            CdrType::Sms => "SMS",
            CdrType::Mms => "MMS",
            CdrType::Voice => "VOICE",
            CdrType::Api => "API",
        }
    }

    /// Lowercase form used in partition paths (`cdr_type=sms`).
    pub const fn as_lower(self) -> &'static str {
        match self {
            CdrType::Sms => "sms",
            CdrType::Mms => "mms",
            CdrType::Voice => "voice",
            CdrType::Api => "api",
        }
    }

    /// The union member the server answers this type with. This is the one
    /// place that mapping is defined (see `tsg-api.md`, "Assumed").
    pub const fn record_kind(self) -> RecordKind {
        match self {
            CdrType::Sms | CdrType::Mms => RecordKind::Message,
            CdrType::Voice => RecordKind::Voice,
            CdrType::Api => RecordKind::Api,
        }
    }
}

impl fmt::Display for CdrType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An unknown CDR type name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown CDR type `{given}`; valid types are SMS, MMS, VOICE, API")]
pub struct UnknownCdrType {
    /// What was given, as given.
    pub given: String,
}

impl FromStr for CdrType {
    type Err = UnknownCdrType;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        CdrType::ALL
            .into_iter()
            .find(|c| c.as_str().eq_ignore_ascii_case(t))
            .ok_or_else(|| UnknownCdrType {
                given: s.to_string(),
            })
    }
}

/// Parses a comma-separated list such as `SMS,mms, voice`; duplicates are removed
/// and order is kept.
pub fn parse_type_list(s: &str) -> Result<Vec<CdrType>, UnknownCdrType> {
    let mut out = Vec::new();
    for part in s.split(',') {
        let t: CdrType = part.parse()?;
        if !out.contains(&t) {
            out.push(t);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_case_insensitively_and_displays_uppercase() {
        for (input, want) in [
            ("sms", CdrType::Sms),
            ("MmS", CdrType::Mms),
            (" VOICE ", CdrType::Voice),
            ("api", CdrType::Api),
        ] {
            let got: CdrType = input.parse().unwrap();
            assert_eq!(got, want);
            assert_eq!(got.to_string(), want.as_str());
        }
    }

    #[test]
    fn unknown_type_lists_valid_ones() {
        let err = "fax".parse::<CdrType>().unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("`fax`"), "{msg}");
        assert!(msg.contains("SMS, MMS, VOICE, API"), "{msg}");
    }

    #[test]
    fn type_lists_dedupe_and_keep_order() {
        assert_eq!(
            parse_type_list("voice,SMS,sms").unwrap(),
            vec![CdrType::Voice, CdrType::Sms]
        );
        assert!(parse_type_list("SMS,").is_err());
    }

    #[test]
    fn each_type_maps_to_one_record_kind() {
        assert_eq!(CdrType::Sms.record_kind(), RecordKind::Message);
        assert_eq!(CdrType::Mms.record_kind(), RecordKind::Message);
        assert_eq!(CdrType::Voice.record_kind(), RecordKind::Voice);
        assert_eq!(CdrType::Api.record_kind(), RecordKind::Api);
    }

    #[test]
    fn serde_uses_graphql_values() {
        assert_eq!(serde_json::to_string(&CdrType::Voice).unwrap(), "\"VOICE\"");
        let t: CdrType = serde_json::from_str("\"MMS\"").unwrap();
        assert_eq!(t, CdrType::Mms);
    }
}

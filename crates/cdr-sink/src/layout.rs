//! Where everything lives under `--out`: Hive-style partitions for data, and the
//! `_cdr_sink/` bookkeeping prefix (skipped by Spark, Hive, Athena, Trino and
//! DuckDB because it starts with `_`).
//!
//! ```text
//! {out}/cdr_type=sms/date=2026-11-01/part-20261101T000000Z-20261101T010000Z-00000.parquet
//! {out}/_cdr_sink/ledger/cdr_type=sms/20261101T000000Z-20261101T010000Z.json
//! ```
//! Names are a pure function of (type, window, file number, format), so a re-run
//! of the same unit writes the same names.

use cdr_core::{CdrType, Window};
use cdr_sink_api::{InvalidKey, ObjectKey};

/// The bookkeeping prefix.
pub const STATE_PREFIX: &str = "_cdr_sink";

/// `cdr_type=sms/date=2026-11-01`: the partition a window's files go to.
pub fn partition(t: CdrType, w: &Window) -> String {
    format!(
        "cdr_type={}/date={}",
        t.as_lower(),
        w.date().format("%Y-%m-%d")
    )
}

/// The file-name prefix shared by every file of one unit.
pub fn part_stem(w: &Window) -> String {
    format!("part-{}-", w.label())
}

/// The key of file `n` of the unit `(t, w)`.
pub fn part_key(t: CdrType, w: &Window, n: u32, extension: &str) -> Result<ObjectKey, InvalidKey> {
    ObjectKey::new(format!(
        "{}/{}{n:05}.{extension}",
        partition(t, w),
        part_stem(w)
    ))
}

/// Whether `key` is a data file of the unit `(t, w)` (any format, any number).
pub fn is_part_of(key: &ObjectKey, t: CdrType, w: &Window) -> bool {
    key.parent() == partition(t, w) && key.file_name().starts_with(&part_stem(w))
}

/// The ledger prefix of type `t`.
pub fn ledger_prefix(t: CdrType) -> String {
    format!("{STATE_PREFIX}/ledger/cdr_type={}", t.as_lower())
}

/// The ledger entry of the unit `(t, w)`: its presence means the unit finished.
pub fn ledger_key(t: CdrType, w: &Window) -> Result<ObjectKey, InvalidKey> {
    ObjectKey::new(format!("{}/{}.json", ledger_prefix(t), w.label()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use cdr_core::parse_datetime;

    #[test]
    fn names_are_deterministic_and_partitioned() {
        let w = Window::new(
            parse_datetime("2026-11-01T23:00:00Z").unwrap(),
            parse_datetime("2026-11-02T00:00:00Z").unwrap(),
        )
        .unwrap();
        let k = part_key(CdrType::Sms, &w, 3, "parquet").unwrap();
        assert_eq!(
            k.as_str(),
            "cdr_type=sms/date=2026-11-01/part-20261101T230000Z-20261102T000000Z-00003.parquet"
        );
        assert!(is_part_of(&k, CdrType::Sms, &w));
        assert!(!is_part_of(&k, CdrType::Mms, &w));
        assert!(!k.is_hidden());
        let l = ledger_key(CdrType::Voice, &w).unwrap();
        assert_eq!(
            l.as_str(),
            "_cdr_sink/ledger/cdr_type=voice/20261101T230000Z-20261102T000000Z.json"
        );
        assert!(l.is_hidden());
    }
}

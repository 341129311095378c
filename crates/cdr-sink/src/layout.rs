//! Where everything lives under `--out`: Hive-style partitions for data, and the
//! `_cdr_sink/` bookkeeping prefix (skipped by Spark, Hive, Athena, Trino and
//! DuckDB because it starts with `_`).
//!
//! ```text
//! {out}/cdr_type=sms/date=2026-11-01/part-20261101T000000Z-20261101T010000Z-00000.parquet
//! {out}/_cdr_sink/ledger/cdr_type=sms/20261101T000000Z-20261101T010000Z.json
//! ```
//! Names are a pure function of (type, window, generation, file number, format),
//! so a re-run of the same unit writes the same names. Generation 0 (a window's
//! first archive) has no generation in its names; a rescan that replaces a
//! window's files writes generation 1, 2, ... (`part-<window>-g0001-00000.parquet`).

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

/// Whether `key` is a data file of the unit `(t, w)` (any format, generation or number).
pub fn is_part_of(key: &ObjectKey, t: CdrType, w: &Window) -> bool {
    key.parent() == partition(t, w) && key.file_name().starts_with(&part_stem(w))
}

/// The key of file `n` of generation `generation` of the unit `(t, w)`.
/// Generation 0 (the first archive of a window) has the names of [`part_key`];
/// a window whose files were replaced by a rescan has generation 1, 2, ...:
/// `part-<window>-g0001-00000.parquet`.
pub fn generation_part_key(
    t: CdrType,
    w: &Window,
    generation: u32,
    n: u32,
    extension: &str,
) -> Result<ObjectKey, InvalidKey> {
    if generation == 0 {
        return part_key(t, w, n, extension);
    }
    ObjectKey::new(format!(
        "{}/{}g{generation:04}-{n:05}.{extension}",
        partition(t, w),
        part_stem(w)
    ))
}

/// The generation of `key` when it is a data file of the unit `(t, w)`.
pub fn generation_of(key: &ObjectKey, t: CdrType, w: &Window) -> Option<u32> {
    if !is_part_of(key, t, w) {
        return None;
    }
    let rest = &key.file_name()[part_stem(w).len()..];
    match rest.strip_prefix('g') {
        Some(g) => g.split('-').next()?.parse().ok(),
        None => Some(0),
    }
}

/// What a data file's key says about it: `cdr_type=<t>/date=<d>/part-<window>-...`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartName {
    /// The lowercase type of the `cdr_type=` partition.
    pub cdr_type: String,
    /// The window in the file name.
    pub window: Window,
}

/// Parses a data file's key, or `None` when it is not named as cdr-sink names them.
pub fn parse_part_key(key: &ObjectKey) -> Option<PartName> {
    let mut segments = key.as_str().split('/');
    let cdr_type = segments.next()?.strip_prefix("cdr_type=")?.to_string();
    let _date = segments.next()?.strip_prefix("date=")?;
    let name = segments.next()?.strip_prefix("part-")?;
    if segments.next().is_some() {
        return None;
    }
    // The label holds exactly one '-', between its two instants.
    let mut pieces = name.splitn(3, '-');
    let label = format!("{}-{}", pieces.next()?, pieces.next()?);
    Some(PartName {
        cdr_type,
        window: parse_label(&label)?,
    })
}

/// The window of a label made by [`Window::label`]
/// (`20261101T000000Z-20261101T010000Z`), or `None`.
pub fn parse_label(label: &str) -> Option<Window> {
    Window::from_label(label)
}

fn parse_compact(s: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    chrono::NaiveDateTime::parse_from_str(s, "%Y%m%dT%H%M%S%.fZ")
        .ok()
        .map(|t| t.and_utc())
}

/// The ledger prefix of type `t`.
pub fn ledger_prefix(t: CdrType) -> String {
    format!("{STATE_PREFIX}/ledger/cdr_type={}", t.as_lower())
}

/// The ledger entry of the unit `(t, w)`: its presence means the unit finished.
pub fn ledger_key(t: CdrType, w: &Window) -> Result<ObjectKey, InvalidKey> {
    ObjectKey::new(format!("{}/{}.json", ledger_prefix(t), w.label()))
}

/// Where replacements in progress are recorded (one document per window whose
/// files a rescan is replacing; see [`crate::rescan`]).
pub fn replacing_prefix() -> String {
    format!("{STATE_PREFIX}/replacing")
}

/// The replacement record of the unit `(t, w)`.
pub fn replacing_key(t: CdrType, w: &Window) -> Result<ObjectKey, InvalidKey> {
    ObjectKey::new(format!(
        "{}/cdr_type={}/{}.json",
        replacing_prefix(),
        t.as_lower(),
        w.label()
    ))
}

/// The quarantine file of generation `generation` of the unit `(t, w)`: the
/// raw JSON of its records that cannot be stored, one per line.
pub fn quarantine_key(t: CdrType, w: &Window, generation: u32) -> Result<ObjectKey, InvalidKey> {
    let g = if generation == 0 {
        String::new()
    } else {
        format!("-g{generation:04}")
    };
    ObjectKey::new(format!(
        "{STATE_PREFIX}/quarantine/cdr_type={}/{}{g}.jsonl",
        t.as_lower(),
        w.label()
    ))
}

/// Where replaced files are kept until `--keep-replaced` has passed:
/// `_cdr_sink/replaced/<when>/<original key>`.
pub fn replaced_prefix() -> String {
    format!("{STATE_PREFIX}/replaced")
}

/// Where `key` goes when it is replaced at `stamp` (a [`compact_instant`]).
pub fn replaced_key(stamp: &str, key: &ObjectKey) -> Result<ObjectKey, InvalidKey> {
    ObjectKey::new(format!("{}/{stamp}/{key}", replaced_prefix()))
}

/// When the replaced object `key` was moved aside.
pub fn replaced_at(key: &ObjectKey) -> Option<chrono::DateTime<chrono::Utc>> {
    let rest = key.as_str().strip_prefix(&replaced_prefix())?;
    let stamp = rest.strip_prefix('/')?.split('/').next()?;
    parse_compact(stamp)
}

/// The list of the files of the unit `(t, w)` that a replacement at `stamp`
/// took out of the type's Delta table and left where they are, for readers
/// of earlier versions, until `--keep-replaced` has passed:
/// `_cdr_sink/replaced/<when>/_cdr_sink/retained/cdr_type=<t>/<window>.json`
/// (see [`crate::retained`]).
pub fn retained_key(stamp: &str, t: CdrType, w: &Window) -> Result<ObjectKey, InvalidKey> {
    ObjectKey::new(format!(
        "{}/{stamp}/{STATE_PREFIX}/retained/cdr_type={}/{}.json",
        replaced_prefix(),
        t.as_lower(),
        w.label()
    ))
}

/// Whether `key` is a list of files left in place (see [`retained_key`]).
pub fn is_retained_list(key: &ObjectKey) -> bool {
    replaced_at(key).is_some()
        && key
            .as_str()
            .contains(&format!("/{STATE_PREFIX}/retained/cdr_type="))
}

/// `20261101T000000Z` (with a fraction of a second when there is one).
pub fn compact_instant(t: &chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y%m%dT%H%M%S%.fZ").to_string()
}

/// Where claims live: one document per unit that a run is working on.
pub fn claims_prefix(t: CdrType) -> String {
    format!("{STATE_PREFIX}/claims/cdr_type={}", t.as_lower())
}

/// The claim of the unit `(t, w)` (see [`crate::claim`]).
pub fn claim_key(t: CdrType, w: &Window) -> Result<ObjectKey, InvalidKey> {
    ObjectKey::new(format!("{}/{}.json", claims_prefix(t), w.label()))
}

/// Where runs probe the store for conditional writes.
pub fn probe_prefix() -> String {
    format!("{STATE_PREFIX}/probe")
}

/// The probe object of run `run_id`.
pub fn probe_key(run_id: &str) -> Result<ObjectKey, InvalidKey> {
    ObjectKey::new(format!("{}/{run_id}.json", probe_prefix()))
}

/// The window of a ledger, replacement or claim record key (`.../<window label>.json`).
pub fn window_of_record(key: &ObjectKey) -> Option<Window> {
    parse_label(key.file_name().strip_suffix(".json")?)
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
        assert_eq!(window_of_record(&l), Some(w));
    }

    #[test]
    fn generations_and_names_parse_back() {
        let w = Window::new(
            parse_datetime("2026-11-01T23:00:00Z").unwrap(),
            parse_datetime("2026-11-02T00:00:00Z").unwrap(),
        )
        .unwrap();
        let g0 = generation_part_key(CdrType::Sms, &w, 0, 1, "csv").unwrap();
        assert_eq!(g0, part_key(CdrType::Sms, &w, 1, "csv").unwrap());
        let g2 = generation_part_key(CdrType::Sms, &w, 2, 1, "csv").unwrap();
        assert_eq!(
            g2.as_str(),
            "cdr_type=sms/date=2026-11-01/part-20261101T230000Z-20261102T000000Z-g0002-00001.csv"
        );
        assert_eq!(generation_of(&g0, CdrType::Sms, &w), Some(0));
        assert_eq!(generation_of(&g2, CdrType::Sms, &w), Some(2));
        assert_eq!(generation_of(&g2, CdrType::Voice, &w), None);
        for k in [&g0, &g2] {
            let p = parse_part_key(k).unwrap();
            assert_eq!((p.cdr_type.as_str(), p.window), ("sms", w));
        }
        let odd = Window::new(
            parse_datetime("2026-11-01T00:00:00Z").unwrap(),
            parse_datetime("2026-11-01T00:00:00.5Z").unwrap(),
        )
        .unwrap();
        assert_eq!(parse_label(&odd.label()), Some(odd));
        for bad in [
            "",
            "x-y",
            "20261101T000000Z",
            "20261101T010000Z-20261101T000000Z",
        ] {
            assert_eq!(parse_label(bad), None, "{bad}");
        }
        let foreign = ObjectKey::new("cdr_type=sms/date=2026-11-01/other.parquet").unwrap();
        assert_eq!(parse_part_key(&foreign), None);
        let c = claim_key(CdrType::Api, &w).unwrap();
        assert_eq!(
            c.as_str(),
            "_cdr_sink/claims/cdr_type=api/20261101T230000Z-20261102T000000Z.json"
        );
        assert_eq!(window_of_record(&c), Some(w));
        let at = parse_datetime("2026-11-05T10:20:30.25Z").unwrap();
        let moved = replaced_key(&compact_instant(&at), &g2).unwrap();
        assert!(moved.is_hidden());
        assert_eq!(replaced_at(&moved), Some(at));
        assert_eq!(replaced_at(&g2), None);
        assert!(!is_retained_list(&moved));
        let list = retained_key(&compact_instant(&at), CdrType::Sms, &w).unwrap();
        assert_eq!(
            list.as_str(),
            "_cdr_sink/replaced/20261105T102030.250Z/_cdr_sink/retained/cdr_type=sms/20261101T230000Z-20261102T000000Z.json"
        );
        assert!(is_retained_list(&list));
        assert_eq!(replaced_at(&list), Some(at));
        assert_eq!(window_of_record(&list), Some(w));
        let r = replacing_key(CdrType::Mms, &w).unwrap();
        assert_eq!(
            r.as_str(),
            "_cdr_sink/replacing/cdr_type=mms/20261101T230000Z-20261102T000000Z.json"
        );
        assert_eq!(window_of_record(&r), Some(w));
    }
}

//! What a generated record holds, column by column: each cell is drawn from
//! the record's random words, by the column's name in `cdr-core`'s table
//! (never by a number that would have to follow its order), and a `cdr-core`
//! record is built from the cells.

use cdr_core::{ApiCdr, Cdr, CdrType, MessageCdr, RecordKind, VoiceCdr, Window};
use rust_decimal::Decimal;

use crate::data::{DataModel, GenIter, GenRecord, mix, window_ns};
use crate::text::{Cell, Known, cell_text};

impl DataModel {
    /// The generated records of `t` in `window`, in server order (datetime,
    /// then id), as `cdr-core` records with full precision. Lazy: memory does
    /// not grow with the window.
    pub fn records(&self, t: CdrType, window: Window) -> impl Iterator<Item = Cdr> + use<> {
        let (start, end) = window_ns(window);
        GenIter::new(*self, t, start, end, None).map(|r| r.to_cdr())
    }
}

static MESSAGE_STATUS: [Known; 5] = [
    Known::new("delivered"),
    Known::new("sent"),
    Known::new("failed"),
    Known::new("queued"),
    Known::new("undelivered"),
];
static API_STATUS: [Known; 4] = [
    Known::new("success"),
    Known::new("error"),
    Known::new("timeout"),
    Known::new("rejected"),
];
static VOICE_STATUS: [Known; 4] = [
    Known::new("ANSWERED"),
    Known::new("NO ANSWER"),
    Known::new("BUSY"),
    Known::new("FAILED"),
];
static API_TYPES: [Known; 4] = [
    Known::new("lookup"),
    Known::new("cnam"),
    Known::new("lrn"),
    Known::new("port_check"),
];
static CALL_TYPES: [Known; 4] = [
    Known::new("inbound"),
    Known::new("outbound"),
    Known::new("toll_free"),
    Known::new("internal"),
];
static ANI_II: [Known; 6] = [
    Known::new("00"),
    Known::new("01"),
    Known::new("07"),
    Known::new("27"),
    Known::new("61"),
    Known::new("62"),
];
static DIRECTIONS: [Known; 2] = [Known::new("inbound"), Known::new("outbound")];
static MESSAGE_TYPES: [Known; 2] = [Known::new("SMS"), Known::new("MMS")];
/// Non-ASCII and CSV-hostile text (commas, quotes, line breaks) that some
/// string fields carry.
static ODD_TEXT: [Known; 6] = [
    Known::new("délivré à l'opérateur"),
    Known::new("配達済み"),
    Known::new("failed, \"carrier\" said:\nno route"),
    Known::new("rejected,\r\nretry later"),
    Known::new("Zurückgewiesen; Grund: \"ungültig\""),
    Known::new("emoji 📞, \"quoted\""),
];

fn phone(w: u64) -> Cell<'static> {
    Cell::Phone(2_000_000_000 + w % 8_000_000_000)
}

/// One of `common`, or (one time in 16) one of the odd texts.
fn text(w: u64, common: &'static [Known]) -> Cell<'static> {
    let c = (w & 63) as usize;
    if c < 4 {
        Cell::Known(&ODD_TEXT[(c + (w >> 6) as usize) % ODD_TEXT.len()])
    } else {
        Cell::Known(&common[c % common.len()])
    }
}

/// Money with `min_scale` to 5 decimals, at most `max` hundred-thousandths,
/// one time in 64 negative (a refund).
fn money(w: u64, max: u64, min_scale: u32) -> Cell<'static> {
    let scale = min_scale + (w % u64::from(6 - min_scale)) as u32;
    let r = w / 6;
    let value = r % (max + 1);
    let mantissa = i128::from(value / 10u64.pow(5 - scale));
    let negative = (r / (max + 1)).is_multiple_of(64);
    Cell::Money {
        mantissa: if negative { -mantissa } else { mantissa },
        scale,
    }
}

impl GenRecord {
    pub(crate) fn kind(&self) -> RecordKind {
        self.t.record_kind()
    }

    /// Whether money fields of this record are rendered as JSON strings.
    pub(crate) fn money_as_string(&self) -> bool {
        self.w[0] & 1 == 1
    }

    fn null(&self, col: usize, one_in: u64) -> bool {
        let bits = (self.w[0] >> (4 + 5 * col)) & 31;
        if one_in == 1 {
            bits == 0
        } else {
            bits.is_multiple_of(one_in)
        }
    }

    /// Column `col` of [`RecordKind::columns`] for this record's kind.
    pub(crate) fn cell(&self, col: usize) -> Cell<'static> {
        let [_, w1, w2, w3] = self.w;
        if col == 0 {
            return Cell::Time(self.key.ns);
        }
        match self.kind() {
            RecordKind::Message => {
                if self.null(col, 1) {
                    return Cell::Null;
                }
                match col {
                    1 => phone(w1),
                    2 => phone(w2),
                    3 => Cell::Known(&DIRECTIONS[(w3 & 1) as usize]),
                    4 => text(w1 >> 40, &MESSAGE_STATUS),
                    5 => money(w3 >> 8, 200_000, 0),
                    6 => Cell::Known(&MESSAGE_TYPES[usize::from(self.t == CdrType::Mms)]),
                    _ => Cell::Null,
                }
            }
            RecordKind::Api => {
                if self.null(col, 1) {
                    return Cell::Null;
                }
                match col {
                    1 => phone(w1),
                    2 => phone(w2),
                    3 => text(w1 >> 40, &API_STATUS),
                    4 => money(w3 >> 8, 100_000, 0),
                    5 => text(w2 >> 40, &API_TYPES),
                    _ => Cell::Null,
                }
            }
            RecordKind::Voice => {
                // didUsed and aniIi are often null; every other field sometimes.
                let one_in = match col {
                    4 => 4,
                    10 => 3,
                    _ => 1,
                };
                if self.null(col, one_in) {
                    return Cell::Null;
                }
                match col {
                    1 => Cell::Uuid(u128::from(mix(w3)) << 64 | u128::from(mix(w2 ^ w1))),
                    2 => phone(w1),
                    3 => phone(w2),
                    4 => phone(mix(w1 ^ 0xd1d)),
                    5 => Cell::Int(((w3 >> 40) % 3601) as i64),
                    6 => text(w1 >> 40, &VOICE_STATUS),
                    7 => money(mix(w3) >> 8, 2_000, 3),
                    8 => money(w3 >> 8, 2_000_000, 0),
                    9 => text(w2 >> 40, &CALL_TYPES),
                    10 => Cell::Known(&ANI_II[((w2 >> 50) % 6) as usize]),
                    _ => Cell::Null,
                }
            }
        }
    }

    pub(crate) fn to_cdr(self) -> Cdr {
        cells_to_cdr(self.kind(), |c| self.cell(c))
    }
}

/// Builds a `cdr-core` record of `kind` from its cells.
pub(crate) fn cells_to_cdr<'a>(kind: RecordKind, cell: impl Fn(usize) -> Cell<'a>) -> Cdr {
    let s = |c: usize| cell_text(cell(c));
    let d = |c: usize| match cell(c) {
        Cell::Money { mantissa, scale } => Decimal::try_from_i128_with_scale(mantissa, scale).ok(),
        _ => None,
    };
    let datetime = match cell(0) {
        Cell::Time(ns) => chrono::DateTime::from_timestamp_nanos(ns),
        _ => chrono::DateTime::UNIX_EPOCH,
    };
    match kind {
        RecordKind::Api => Cdr::Api(ApiCdr {
            datetime,
            from: s(1),
            destination: s(2),
            status: s(3),
            charge: d(4),
            r#type: s(5),
        }),
        RecordKind::Message => Cdr::Message(MessageCdr {
            datetime,
            from_number: s(1),
            to_number: s(2),
            direction: s(3),
            status: s(4),
            charge: d(5),
            r#type: s(6),
        }),
        RecordKind::Voice => Cdr::Voice(VoiceCdr {
            datetime,
            call_id: s(1),
            source_ani: s(2),
            destination_number: s(3),
            did_used: s(4),
            session_time: match cell(5) {
                Cell::Int(v) => Some(v),
                _ => None,
            },
            status: s(6),
            called_rate: d(7),
            charge: d(8),
            call_type: s(9),
            ani_ii: s(10),
        }),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::data::HOUR_NS;
    use cdr_core::parse_datetime;

    fn model() -> DataModel {
        DataModel::new(
            42,
            &BTreeMap::from([
                (CdrType::Sms, 3600),
                (CdrType::Mms, 600),
                (CdrType::Voice, 1200),
                (CdrType::Api, 7),
            ]),
        )
    }

    fn w(a: &str, b: &str) -> Window {
        Window::new(parse_datetime(a).unwrap(), parse_datetime(b).unwrap()).unwrap()
    }

    #[test]
    fn every_nullable_field_is_sometimes_null_and_some_text_is_hostile() {
        let m = model();
        let win = w("2026-11-01T00:00:00Z", "2026-11-01T02:00:00Z");
        for t in [CdrType::Sms, CdrType::Voice, CdrType::Api] {
            let kind = t.record_kind();
            let (s, e) = window_ns(win);
            let mut nulls = vec![0u32; kind.columns().len()];
            let mut hostile = 0;
            let mut non_ascii = 0;
            let mut scales = [0u32; 6];
            // API has only 14 records in two hours at its rate here; use a longer run.
            let e = if t == CdrType::Api {
                s + 400 * HOUR_NS
            } else {
                e
            };
            for r in GenIter::new(m, t, s, e, None) {
                for (c, n) in nulls.iter_mut().enumerate() {
                    match r.cell(c) {
                        Cell::Null => *n += 1,
                        Cell::Known(k) if k.text.contains([',', '"', '\n']) => hostile += 1,
                        Cell::Known(k) if !k.text.is_ascii() => non_ascii += 1,
                        Cell::Money { scale, .. } => scales[scale as usize] += 1,
                        _ => {}
                    }
                }
            }
            assert_eq!(nulls[0], 0, "datetime is never null");
            assert!(nulls[1..].iter().all(|&n| n > 0), "{t}: {nulls:?}");
            assert!(hostile > 0 && non_ascii > 0, "{t}");
            assert!(scales.iter().all(|&n| n > 0), "{t}: {scales:?}");
        }
    }
}

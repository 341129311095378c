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
        match self.kind() {
            RecordKind::Message => {
                if col == message::DATETIME {
                    return Cell::Time(self.key.ns);
                }
                if self.null(col, 1) {
                    return Cell::Null;
                }
                match col {
                    message::FROM_NUMBER => phone(w1),
                    message::TO_NUMBER => phone(w2),
                    message::DIRECTION => Cell::Known(&DIRECTIONS[(w3 & 1) as usize]),
                    message::STATUS => text(w1 >> 40, &MESSAGE_STATUS),
                    message::CHARGE => money(w3 >> 8, 200_000, 0),
                    message::TYPE => {
                        Cell::Known(&MESSAGE_TYPES[usize::from(self.t == CdrType::Mms)])
                    }
                    _ => Cell::Null,
                }
            }
            RecordKind::Api => {
                if col == api::DATETIME {
                    return Cell::Time(self.key.ns);
                }
                if self.null(col, 1) {
                    return Cell::Null;
                }
                match col {
                    api::FROM => phone(w1),
                    api::DESTINATION => phone(w2),
                    api::STATUS => text(w1 >> 40, &API_STATUS),
                    api::CHARGE => money(w3 >> 8, 100_000, 0),
                    api::TYPE => text(w2 >> 40, &API_TYPES),
                    _ => Cell::Null,
                }
            }
            RecordKind::Voice => {
                if col == voice::DATETIME {
                    return Cell::Time(self.key.ns);
                }
                // didUsed and aniIi are often null; every other field sometimes.
                let one_in = match col {
                    voice::DID_USED => 4,
                    voice::ANI_II => 3,
                    _ => 1,
                };
                if self.null(col, one_in) {
                    return Cell::Null;
                }
                match col {
                    voice::CALL_ID => {
                        Cell::Uuid(u128::from(mix(w3)) << 64 | u128::from(mix(w2 ^ w1)))
                    }
                    voice::SOURCE_ANI => phone(w1),
                    voice::DESTINATION_NUMBER => phone(w2),
                    voice::DID_USED => phone(mix(w1 ^ 0xd1d)),
                    voice::SESSION_TIME => Cell::Int(((w3 >> 40) % 3601) as i64),
                    voice::STATUS => text(w1 >> 40, &VOICE_STATUS),
                    voice::CALLED_RATE => money(mix(w3) >> 8, 2_000, 3),
                    voice::CHARGE => money(w3 >> 8, 2_000_000, 0),
                    voice::CALL_TYPE => text(w2 >> 40, &CALL_TYPES),
                    voice::ANI_II => Cell::Known(&ANI_II[((w2 >> 50) % 6) as usize]),
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
    let t = |c: usize| match cell(c) {
        Cell::Time(ns) => chrono::DateTime::from_timestamp_nanos(ns),
        _ => chrono::DateTime::UNIX_EPOCH,
    };
    let s = |c: usize| cell_text(cell(c));
    let d = |c: usize| match cell(c) {
        Cell::Money { mantissa, scale } => Decimal::try_from_i128_with_scale(mantissa, scale).ok(),
        _ => None,
    };
    let i = |c: usize| match cell(c) {
        Cell::Int(v) => Some(v),
        _ => None,
    };
    match kind {
        RecordKind::Api => Cdr::Api(ApiCdr {
            datetime: t(api::DATETIME),
            from: s(api::FROM),
            destination: s(api::DESTINATION),
            status: s(api::STATUS),
            charge: d(api::CHARGE),
            r#type: s(api::TYPE),
        }),
        RecordKind::Message => Cdr::Message(MessageCdr {
            datetime: t(message::DATETIME),
            from_number: s(message::FROM_NUMBER),
            to_number: s(message::TO_NUMBER),
            direction: s(message::DIRECTION),
            status: s(message::STATUS),
            charge: d(message::CHARGE),
            r#type: s(message::TYPE),
        }),
        RecordKind::Voice => Cdr::Voice(VoiceCdr {
            datetime: t(voice::DATETIME),
            call_id: s(voice::CALL_ID),
            source_ani: s(voice::SOURCE_ANI),
            destination_number: s(voice::DESTINATION_NUMBER),
            did_used: s(voice::DID_USED),
            session_time: i(voice::SESSION_TIME),
            status: s(voice::STATUS),
            called_rate: d(voice::CALLED_RATE),
            charge: d(voice::CHARGE),
            call_type: s(voice::CALL_TYPE),
            ani_ii: s(voice::ANI_II),
        }),
    }
}

// The numbers of the columns cells are drawn for, looked up by name in
// `cdr-core`'s table when this crate is compiled: a column renamed or
// dropped there stops the build here, and a new order changes nothing.

mod api {
    use super::column;
    use cdr_core::RecordKind::Api;

    pub(super) const DATETIME: usize = column(Api, "datetime");
    pub(super) const FROM: usize = column(Api, "from");
    pub(super) const DESTINATION: usize = column(Api, "destination");
    pub(super) const STATUS: usize = column(Api, "status");
    pub(super) const CHARGE: usize = column(Api, "charge");
    pub(super) const TYPE: usize = column(Api, "type");
}

mod message {
    use super::column;
    use cdr_core::RecordKind::Message;

    pub(super) const DATETIME: usize = column(Message, "datetime");
    pub(super) const FROM_NUMBER: usize = column(Message, "from_number");
    pub(super) const TO_NUMBER: usize = column(Message, "to_number");
    pub(super) const DIRECTION: usize = column(Message, "direction");
    pub(super) const STATUS: usize = column(Message, "status");
    pub(super) const CHARGE: usize = column(Message, "charge");
    pub(super) const TYPE: usize = column(Message, "type");
}

mod voice {
    use super::column;
    use cdr_core::RecordKind::Voice;

    pub(super) const DATETIME: usize = column(Voice, "datetime");
    pub(super) const CALL_ID: usize = column(Voice, "call_id");
    pub(super) const SOURCE_ANI: usize = column(Voice, "source_ani");
    pub(super) const DESTINATION_NUMBER: usize = column(Voice, "destination_number");
    pub(super) const DID_USED: usize = column(Voice, "did_used");
    pub(super) const SESSION_TIME: usize = column(Voice, "session_time");
    pub(super) const STATUS: usize = column(Voice, "status");
    pub(super) const CALLED_RATE: usize = column(Voice, "called_rate");
    pub(super) const CHARGE: usize = column(Voice, "charge");
    pub(super) const CALL_TYPE: usize = column(Voice, "call_type");
    pub(super) const ANI_II: usize = column(Voice, "ani_ii");
}

/// The number of the column named `name` (snake_case) in `kind`'s columns.
/// Evaluated at compile time, where a missing column stops the build.
const fn column(kind: RecordKind, name: &str) -> usize {
    let columns = kind.columns();
    let mut i = 0;
    while i < columns.len() {
        if same(columns[i].name, name) {
            return i;
        }
        i += 1;
    }
    panic!("the simulator generates a column that cdr-core's table does not have")
}

/// `a == b`, in a `const fn`.
const fn same(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::HOUR_NS;
    use crate::data::fixtures::{model, w};

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
            let mut records = 0;
            for r in GenIter::new(m, t, s, e, None) {
                records += 1;
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
            assert!(
                nulls.iter().all(|&n| (n as usize) < records),
                "{t}: a column cdr-core has that no cell is drawn for: {nulls:?} of {records}"
            );
            assert!(nulls[1..].iter().all(|&n| n > 0), "{t}: {nulls:?}");
            assert!(hostile > 0 && non_ascii > 0, "{t}");
            assert!(scales.iter().all(|&n| n > 0), "{t}: {scales:?}");
        }
    }
}

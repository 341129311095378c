//! The deterministic data model: every record is a pure function of
//! `(seed, type, hour, index)`, so any window, of any size, is listed without
//! holding records in memory, and a page costs O(page size).
//!
//! Layout of one hour of one type: `n` records (the type's rate), indexed
//! `0..n`. Record `i` lies at a microsecond offset inside the hour that is
//! non-decreasing in `i`: roughly `i * 3600 s / n` plus a per-hour sub-second
//! phase, record 0 lies exactly on the hour, and some blocks of consecutive
//! indices are bursts that share one datetime (hundreds of records at one
//! instant at the default rates; the first block of every day is a burst on
//! the day boundary). The order (datetime, index) is therefore the index
//! order, and a window or a cursor position maps to an index by binary search.

use std::collections::BTreeMap;
use std::sync::Arc;

use cdr_core::{ApiCdr, Cdr, CdrType, MessageCdr, RecordKind, VoiceCdr, Window};
use rust_decimal::Decimal;

use crate::hooks::{Override, TypeHooks};
use crate::text::{Cell, Known, cell_text};

pub(crate) const HOUR_NS: i64 = 3_600_000_000_000;
const HOUR_US: u64 = 3_600_000_000;
/// Ids of records added with `insert_late` start here, so that they sort after
/// generated records of the same datetime.
pub(crate) const LATE_ID_BASE: u64 = 1 << 63;

/// The splitmix64 finaliser: a fast, well-mixed 64-bit hash step.
pub(crate) const fn mix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

pub(crate) fn type_index(t: CdrType) -> usize {
    match t {
        CdrType::Sms => 0,
        CdrType::Mms => 1,
        CdrType::Voice => 2,
        CdrType::Api => 3,
    }
}

/// Position of a record in server order: datetime (ns since the epoch), then id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct Key {
    pub ns: i64,
    pub id: u64,
}

/// The generated data set: a seed and a records-per-hour rate per type.
///
/// Usable without a server, e.g. to know what a window holds:
///
/// ```
/// use std::collections::BTreeMap;
/// use cdr_core::{CdrType, Window, parse_datetime};
/// use cdr_sim::DataModel;
///
/// let model = DataModel::new(7, &BTreeMap::from([(CdrType::Api, 300)]));
/// let hour = Window::new(
///     parse_datetime("2026-11-01T00:00:00Z")?,
///     parse_datetime("2026-11-01T01:00:00Z")?,
/// )?;
/// assert_eq!(model.count(CdrType::Api, hour), 300);
/// assert_eq!(model.records(CdrType::Api, hour).count(), 300);
/// assert_eq!(model.count(CdrType::Sms, hour), 0); // no rate given
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DataModel {
    seed: u64,
    rates: [u64; 4],
}

impl DataModel {
    /// A model with these records-per-hour rates; a type without a rate has
    /// no records.
    pub fn new(seed: u64, rates: &BTreeMap<CdrType, u64>) -> DataModel {
        let mut r = [0; 4];
        for (t, n) in rates {
            r[type_index(*t)] = *n;
        }
        DataModel { seed, rates: r }
    }

    /// Records per hour of `t`.
    pub fn rate(&self, t: CdrType) -> u64 {
        self.rates[type_index(t)]
    }

    /// The generated records of `t` in `window`, in server order (datetime,
    /// then id), as `cdr-core` records with full precision. Lazy: memory does
    /// not grow with the window.
    pub fn records(&self, t: CdrType, window: Window) -> impl Iterator<Item = Cdr> + use<> {
        let (start, end) = window_ns(window);
        GenIter::new(*self, t, start, end, None).map(|r| r.to_cdr())
    }

    /// How many generated records of `t` lie in `window`, without listing them.
    pub fn count(&self, t: CdrType, window: Window) -> u64 {
        let (start, end) = window_ns(window);
        self.count_ns(t, start, end)
    }

    pub(crate) fn count_ns(&self, t: CdrType, start: i64, end: i64) -> u64 {
        if self.rate(t) == 0 || start >= end {
            return 0;
        }
        let h0 = start.div_euclid(HOUR_NS);
        let h1 = (end - 1).div_euclid(HOUR_NS);
        let first = self.hour(t, h0);
        if h0 == h1 {
            return first.first_at_or_after(end) - first.first_at_or_after(start);
        }
        let last = self.hour(t, h1);
        let full = (h1 - h0 - 1) as u64;
        (first.n - first.first_at_or_after(start))
            .saturating_add(full.saturating_mul(self.rate(t)))
            .saturating_add(last.first_at_or_after(end))
    }

    pub(crate) fn hour(&self, t: CdrType, h: i64) -> Hour {
        let n = self.rate(t);
        let salt = mix(self.seed ^ mix((type_index(t) as u64 + 1) << 56 ^ h as u64));
        let spacing = HOUR_US / n.max(1);
        Hour {
            t,
            start_ns: h.saturating_mul(HOUR_NS),
            day_start: h.rem_euclid(24) == 0,
            n,
            block: (n / 16).clamp(2, 500),
            phase: if spacing > 0 { mix(salt) % spacing } else { 0 },
            salt,
        }
    }
}

/// Nanosecond bounds of a window (saturating outside the i64 range).
pub(crate) fn window_ns(w: Window) -> (i64, i64) {
    (instant_ns(w.start()), instant_ns(w.end()))
}

/// Nanoseconds since the epoch (saturating outside the i64 range).
pub(crate) fn instant_ns(t: chrono::DateTime<chrono::Utc>) -> i64 {
    t.timestamp_nanos_opt().unwrap_or(if t.timestamp() < 0 {
        i64::MIN
    } else {
        i64::MAX
    })
}

/// One hour of one type.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Hour {
    t: CdrType,
    start_ns: i64,
    day_start: bool,
    n: u64,
    block: u64,
    phase: u64,
    salt: u64,
}

/// Smallest `i` in `0..=n` with `pred(i)`, for a predicate that is false then true.
fn partition_point(n: u64, pred: impl Fn(u64) -> bool) -> u64 {
    let (mut lo, mut hi) = (0u64, n);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if pred(mid) {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    lo
}

impl Hour {
    fn base_us(&self, i: u64) -> u64 {
        match i.checked_mul(HOUR_US) {
            Some(p) => p / self.n,
            None => (u128::from(i) * u128::from(HOUR_US) / u128::from(self.n)) as u64,
        }
    }

    fn is_burst(&self, block: u64) -> bool {
        (block == 0 && self.day_start)
            || mix(self.salt ^ block.wrapping_mul(0x2545_f491)).is_multiple_of(5)
    }

    /// Offset of record `i` inside the hour, in microseconds; non-decreasing in
    /// `i`, 0 for `i == 0`, always below one hour.
    fn offset_us(&self, i: u64) -> u64 {
        let block = i / self.block;
        let j = if self.is_burst(block) {
            block * self.block
        } else {
            i
        };
        if j == 0 {
            0
        } else {
            self.base_us(j) + self.phase
        }
    }

    fn key(&self, i: u64) -> Key {
        Key {
            ns: self
                .start_ns
                .saturating_add(self.offset_us(i) as i64 * 1000),
            id: i,
        }
    }

    /// First index whose datetime is at or after `ns`.
    fn first_at_or_after(&self, ns: i64) -> u64 {
        if ns <= self.start_ns {
            return 0;
        }
        let inside = ns - self.start_ns;
        if inside >= HOUR_NS {
            return self.n;
        }
        let target = (inside as u64).div_ceil(1000);
        partition_point(self.n, |i| self.offset_us(i) >= target)
    }

    /// First index whose key is after `k`.
    fn first_after(&self, k: Key) -> u64 {
        if k.ns < self.start_ns {
            return 0;
        }
        if k.ns - self.start_ns >= HOUR_NS {
            return self.n;
        }
        partition_point(self.n, |i| self.key(i) > k)
    }

    fn record(&self, i: u64) -> GenRecord {
        let w0 = mix(self.salt ^ i);
        let w1 = mix(w0);
        let w2 = mix(w1);
        let w3 = mix(w2);
        GenRecord {
            t: self.t,
            key: self.key(i),
            w: [w0, w1, w2, w3],
        }
    }
}

/// Iterates the generated records of one type from a lower bound to a window end.
pub(crate) struct GenIter {
    model: DataModel,
    t: CdrType,
    hour: Hour,
    h: i64,
    last_h: i64,
    end_ns: i64,
    i: u64,
    hi: u64,
}

impl GenIter {
    /// Records with `start_ns <= datetime < end_ns` and key after `after`.
    pub(crate) fn new(
        model: DataModel,
        t: CdrType,
        start_ns: i64,
        end_ns: i64,
        after: Option<Key>,
    ) -> GenIter {
        let lower = after.map_or(start_ns, |k| k.ns.max(start_ns));
        let h = lower.div_euclid(HOUR_NS);
        let last_h = end_ns.saturating_sub(1).div_euclid(HOUR_NS);
        let hour = model.hour(t, h);
        let mut i = hour.first_at_or_after(start_ns);
        if let Some(k) = after {
            i = i.max(hour.first_after(k));
        }
        let hi = if h >= last_h {
            hour.first_at_or_after(end_ns)
        } else {
            hour.n
        };
        GenIter {
            model,
            t,
            hour,
            h,
            last_h,
            end_ns,
            i,
            hi: if start_ns < end_ns { hi } else { 0 },
        }
    }
}

impl Iterator for GenIter {
    type Item = GenRecord;

    fn next(&mut self) -> Option<GenRecord> {
        loop {
            if self.i < self.hi {
                let r = self.hour.record(self.i);
                self.i += 1;
                return Some(r);
            }
            if self.h >= self.last_h || self.hour.n == 0 {
                return None;
            }
            self.h += 1;
            self.hour = self.model.hour(self.t, self.h);
            self.i = 0;
            self.hi = if self.h == self.last_h {
                self.hour.first_at_or_after(self.end_ns)
            } else {
                self.hour.n
            };
        }
    }
}

/// A generated record: its position and four random words its fields are
/// derived from on demand.
#[derive(Debug, Clone, Copy)]
pub(crate) struct GenRecord {
    t: CdrType,
    pub key: Key,
    w: [u64; 4],
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

/// A record added with `insert_late`.
#[derive(Debug, Clone)]
pub(crate) struct Late {
    pub key: Key,
    pub cdr: Cdr,
}

impl Late {
    fn money_as_string(&self) -> bool {
        self.key.id & 1 == 1
    }

    fn cell(&self, col: usize) -> Cell<'_> {
        use cdr_core::Value;
        match self.cdr.value(col) {
            Value::Null => Cell::Null,
            Value::Timestamp(t) => Cell::Time(t.timestamp_nanos_opt().unwrap_or_default()),
            Value::Decimal(d) => Cell::Money {
                mantissa: d.mantissa(),
                scale: d.scale(),
            },
            Value::Int64(v) => Cell::Int(v),
            Value::Str(s) => Cell::Str(s),
        }
    }
}

/// The position a late record gets, or `None` when its datetime cannot be
/// represented (outside 1677..2262 or a leap second).
pub(crate) fn late_key(cdr: &Cdr, id: u64) -> Option<Key> {
    use cdr_core::Timestamped;
    let t = cdr.datetime();
    if t.timestamp_subsec_nanos() >= 1_000_000_000 {
        return None;
    }
    Some(Key {
        ns: t.timestamp_nanos_opt()?,
        id,
    })
}

/// A row of a [`Source`]: a generated record or an index into the late list.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Row {
    Gen(GenRecord),
    Late(usize),
}

#[derive(Debug, Clone, Copy)]
enum RowRef<'a> {
    Gen(&'a GenRecord),
    Late(&'a Late),
}

/// A row with access to its cells, as the hooks of its type change them.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RowView<'a> {
    row: RowRef<'a>,
    hooks: &'a TypeHooks,
}

impl<'a> RowView<'a> {
    pub(crate) fn key(&self) -> Key {
        match self.row {
            RowRef::Gen(g) => g.key,
            RowRef::Late(l) => l.key,
        }
    }

    pub(crate) fn kind(&self) -> RecordKind {
        match self.row {
            RowRef::Gen(g) => g.kind(),
            RowRef::Late(l) => l.cdr.kind(),
        }
    }

    pub(crate) fn money_as_string(&self) -> bool {
        match self.row {
            RowRef::Gen(g) => g.money_as_string(),
            RowRef::Late(l) => l.money_as_string(),
        }
    }

    /// Column `col` of the row's kind, re-rated when a hook says so.
    pub(crate) fn cell(&self, col: usize) -> Cell<'a> {
        let cell = match self.row {
            RowRef::Gen(g) => g.cell(col),
            RowRef::Late(l) => l.cell(col),
        };
        match cell {
            Cell::Money { mantissa, scale }
                if self.hooks.has_rerates() && is_charge(self.kind(), col) =>
            {
                match self.hooks.charge_delta(self.key().ns) {
                    None => cell,
                    Some(delta) => match Decimal::try_from_i128_with_scale(mantissa, scale) {
                        Ok(d) => {
                            let changed = d + delta;
                            Cell::Money {
                                mantissa: changed.mantissa(),
                                scale: changed.scale(),
                            }
                        }
                        Err(_) => cell,
                    },
                }
            }
            other => other,
        }
    }

    /// The member of unknown type this row is served as, if any (only
    /// generated records are).
    pub(crate) fn unknown(&self) -> Option<&'a str> {
        match self.row {
            RowRef::Gen(g) => self.hooks.unknown_for(g.key.id),
            RowRef::Late(_) => None,
        }
    }

    /// The values of this row replaced by JSON text, if any.
    pub(crate) fn overrides(&self) -> Option<&'a [Override]> {
        self.hooks.overrides(&self.key())
    }

    /// Whether an archive of `t` should hold this row: a record of `t`'s
    /// member, served as such, with values that can be stored.
    pub(crate) fn is_record_of(&self, t: CdrType) -> bool {
        self.kind() == t.record_kind() && self.unknown().is_none() && self.overrides().is_none()
    }

    pub(crate) fn to_cdr(self) -> Cdr {
        match self.row {
            RowRef::Late(l) if self.hooks.charge_delta(l.key.ns).is_none() => l.cdr.clone(),
            _ => cells_to_cdr(self.kind(), |c| self.cell(c)),
        }
    }
}

/// Whether column `col` of `kind` is `charge`.
fn is_charge(kind: RecordKind, col: usize) -> bool {
    kind.columns()
        .get(col)
        .is_some_and(|c| c.graphql == "charge")
}

/// Generated and late records of one type merged in (datetime, id) order,
/// without the records a hook removed.
pub(crate) struct Source {
    model: DataModel,
    t: CdrType,
    end_ns: i64,
    generated: GenIter,
    pending: Option<GenRecord>,
    late: Arc<Vec<Late>>,
    li: usize,
    lend: usize,
    hooks: Arc<TypeHooks>,
}

impl Source {
    /// Records of `t` with `start_ns <= datetime < end_ns` after `after`.
    pub(crate) fn new(
        model: DataModel,
        t: CdrType,
        late: Arc<Vec<Late>>,
        hooks: Arc<TypeHooks>,
        start_ns: i64,
        end_ns: i64,
        after: Option<Key>,
    ) -> Source {
        let mut generated = GenIter::new(model, t, start_ns, end_ns, after);
        let pending = generated.next();
        let li = late.partition_point(|l| l.key.ns < start_ns || after.is_some_and(|a| l.key <= a));
        let lend = late.partition_point(|l| l.key.ns < end_ns).max(li);
        Source {
            model,
            t,
            end_ns,
            generated,
            pending,
            late,
            li,
            lend,
            hooks,
        }
    }

    fn merged_next(&mut self) -> Option<Row> {
        let late = (self.li < self.lend).then(|| self.late[self.li].key);
        match (self.pending, late) {
            (Some(g), Some(l)) if l < g.key => {
                self.li += 1;
                Some(Row::Late(self.li - 1))
            }
            (Some(g), _) => {
                self.pending = self.generated.next();
                Some(Row::Gen(g))
            }
            (None, Some(_)) => {
                self.li += 1;
                Some(Row::Late(self.li - 1))
            }
            (None, None) => None,
        }
    }

    pub(crate) fn next_row(&mut self) -> Option<Row> {
        loop {
            let row = self.merged_next()?;
            let ns = match &row {
                Row::Gen(g) => g.key.ns,
                Row::Late(i) => self.late[*i].key.ns,
            };
            let Some(until) = self.hooks.removed_until(ns) else {
                return Some(row);
            };
            if let Row::Gen(_) = row {
                // Jump over the removed range rather than list it.
                self.generated = GenIter::new(self.model, self.t, until, self.end_ns, None);
                self.pending = self.generated.next();
            }
        }
    }

    /// The row after `n` others.
    pub(crate) fn nth_row(&mut self, n: u64) -> Option<Row> {
        for _ in 0..n {
            self.next_row()?;
        }
        self.next_row()
    }

    pub(crate) fn view<'a>(&'a self, row: &'a Row) -> RowView<'a> {
        RowView {
            row: match row {
                Row::Gen(g) => RowRef::Gen(g),
                Row::Late(i) => RowRef::Late(&self.late[*i]),
            },
            hooks: &self.hooks,
        }
    }
}

impl Iterator for Source {
    type Item = Cdr;

    fn next(&mut self) -> Option<Cdr> {
        let row = self.next_row()?;
        Some(self.view(&row).to_cdr())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cdr_core::{Timestamped, parse_datetime};
    use chrono::DateTime;

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
    fn offsets_are_monotone_start_on_the_hour_and_stay_inside_it() {
        let m = model();
        for t in CdrType::ALL {
            for h in [0i64, 1, 23, 24, 493_000, -5] {
                let hour = m.hour(t, h);
                let mut prev = 0;
                for i in 0..hour.n {
                    let off = hour.offset_us(i);
                    assert!(off >= prev, "{t} h{h} i{i}");
                    assert!(off < HOUR_US);
                    prev = off;
                }
                if hour.n > 0 {
                    assert_eq!(hour.offset_us(0), 0);
                }
            }
        }
    }

    #[test]
    fn bursts_share_datetimes_and_days_start_with_one() {
        let m = model();
        let day = w("2026-11-01T00:00:00Z", "2026-11-02T00:00:00Z");
        let recs: Vec<Cdr> = m.records(CdrType::Sms, day).collect();
        assert_eq!(recs.len(), 24 * 3600);
        let at_midnight = recs
            .iter()
            .take_while(|r| r.datetime() == day.start())
            .count();
        assert_eq!(at_midnight, 225, "the first block of the day is a burst");
        let mut longest = 1;
        let mut run = 1;
        for pair in recs.windows(2) {
            assert!(pair[0].datetime() <= pair[1].datetime());
            if pair[0].datetime() == pair[1].datetime() {
                run += 1;
                longest = longest.max(run);
            } else {
                run = 1;
            }
        }
        assert!(longest >= 200, "{longest}");
    }

    #[test]
    fn counts_and_listing_agree_for_odd_windows() {
        let m = model();
        for (a, b) in [
            ("2026-11-01T00:00:00Z", "2026-11-01T00:00:00.000001Z"),
            ("2026-11-01T00:17:03.5Z", "2026-11-01T03:01:00Z"),
            (
                "2026-10-31T23:59:59.999999999Z",
                "2026-11-01T00:00:00.000000001Z",
            ),
            ("2026-11-01T05:00:00Z", "2026-11-01T06:00:00Z"),
        ] {
            let win = w(a, b);
            for t in CdrType::ALL {
                let listed: Vec<Cdr> = m.records(t, win).collect();
                assert_eq!(listed.len() as u64, m.count(t, win), "{t} {win}");
                assert!(listed.iter().all(|r| win.contains(r.datetime())));
            }
        }
    }

    #[test]
    fn splitting_a_window_loses_and_duplicates_nothing() {
        let m = model();
        let whole = w("2026-11-01T00:00:00Z", "2026-11-01T02:00:00Z");
        let all: Vec<Cdr> = m.records(CdrType::Voice, whole).collect();
        for cut in [
            "2026-11-01T00:00:00.000001Z",
            "2026-11-01T00:30:00Z",
            "2026-11-01T01:00:00Z",
            "2026-11-01T01:59:59.999999Z",
        ] {
            let (a, b) = (
                w("2026-11-01T00:00:00Z", cut),
                w(cut, "2026-11-01T02:00:00Z"),
            );
            let mut joined: Vec<Cdr> = m.records(CdrType::Voice, a).collect();
            joined.extend(m.records(CdrType::Voice, b));
            assert_eq!(joined, all, "cut at {cut}");
        }
    }

    #[test]
    fn resuming_after_any_key_continues_exactly() {
        let m = model();
        let win = w("2026-11-01T00:00:00Z", "2026-11-01T01:30:00Z");
        let (s, e) = window_ns(win);
        let all: Vec<GenRecord> = GenIter::new(m, CdrType::Sms, s, e, None).collect();
        for k in [0usize, 1, 100, 224, 225, 3599, 3600, 4000, all.len() - 1] {
            let rest: Vec<Key> = GenIter::new(m, CdrType::Sms, s, e, Some(all[k].key))
                .map(|r| r.key)
                .collect();
            let want: Vec<Key> = all[k + 1..].iter().map(|r| r.key).collect();
            assert_eq!(rest, want, "after record {k}");
        }
    }

    #[test]
    fn records_are_pure_functions_of_seed_type_hour_index() {
        let win = w("2026-11-01T10:00:00Z", "2026-11-01T11:00:00Z");
        let a: Vec<Cdr> = model().records(CdrType::Voice, win).collect();
        let b: Vec<Cdr> = model().records(CdrType::Voice, win).collect();
        assert_eq!(a, b);
        let other = DataModel::new(43, &BTreeMap::from([(CdrType::Voice, 1200)]));
        let c: Vec<Cdr> = other.records(CdrType::Voice, win).collect();
        assert_ne!(a, c);
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

    #[test]
    fn late_records_merge_in_key_order() {
        let m = model();
        let win = w("2026-11-01T00:00:00Z", "2026-11-01T00:01:00Z");
        let (s, e) = window_ns(win);
        let generated: Vec<Cdr> = m.records(CdrType::Api, win).collect();
        assert!(!generated.is_empty());
        let mut late: Vec<Late> = [0i64, 30_000_000_000, 0]
            .iter()
            .enumerate()
            .map(|(k, &off)| {
                let mut cdr = generated[0].clone();
                if let Cdr::Api(a) = &mut cdr {
                    a.datetime = DateTime::from_timestamp_nanos(s + off);
                    a.status = Some(format!("late {k}"));
                }
                Late {
                    key: late_key(&cdr, LATE_ID_BASE + k as u64).unwrap(),
                    cdr,
                }
            })
            .collect();
        late.sort_by_key(|l| l.key);
        let merged: Vec<Cdr> =
            Source::new(m, CdrType::Api, Arc::new(late), Arc::default(), s, e, None).collect();
        let is_late = |c: &Cdr| matches!(c, Cdr::Api(a) if a.status.as_deref().is_some_and(|x| x.starts_with("late")));
        let late_order: Vec<String> = merged
            .iter()
            .filter(|c| is_late(c))
            .filter_map(|c| match c {
                Cdr::Api(a) => a.status.clone(),
                _ => None,
            })
            .collect();
        assert_eq!(merged.len(), generated.len() + 3);
        assert_eq!(late_order, ["late 0", "late 2", "late 1"]);
        assert!(
            merged
                .windows(2)
                .all(|p| p[0].datetime() <= p[1].datetime())
        );
        // At one datetime, generated records come before late ones.
        let at_start: Vec<bool> = merged
            .iter()
            .filter(|c| c.datetime() == win.start())
            .map(is_late)
            .collect();
        assert!(
            at_start.len() >= 3 && at_start.windows(2).all(|p| p[0] <= p[1]),
            "{at_start:?}"
        );
        assert!(!at_start[0]);
    }
}

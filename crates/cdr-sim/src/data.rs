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
//!
//! What a record's columns hold is [`crate::cells`]'s; merging in late
//! records and applying the hooks is [`crate::source`]'s.

use std::collections::BTreeMap;

use cdr_core::{CdrType, Window};

pub(crate) const HOUR_NS: i64 = 3_600_000_000_000;
const HOUR_US: u64 = 3_600_000_000;

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
    pub t: CdrType,
    pub key: Key,
    pub w: [u64; 4],
}

/// The model and windows the simulator's unit tests share.
#[cfg(test)]
pub(crate) mod fixtures {
    use std::collections::BTreeMap;

    use cdr_core::{CdrType, Window, parse_datetime};

    use super::DataModel;

    /// A model with a seed and rates of its own (API deliberately sparse).
    pub(crate) fn model() -> DataModel {
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

    pub(crate) fn w(a: &str, b: &str) -> Window {
        Window::new(parse_datetime(a).unwrap(), parse_datetime(b).unwrap()).unwrap()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cdr_core::{Cdr, Timestamped};

    use crate::data::fixtures::{model, w};

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
}

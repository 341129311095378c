//! Half-open time windows `[start, end)`, their planning into aligned steps and
//! their splitting.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

/// A half-open interval of instants: `start` is in, `end` is out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Window {
    start: DateTime<Utc>,
    end: DateTime<Utc>,
}

/// Why a window or a plan could not be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WindowError {
    #[error("start {start} is not before end {end}: give an end later than the start")]
    Empty {
        start: DateTime<Utc>,
        end: DateTime<Utc>,
    },
    #[error("start {start} is not before now ({now}): the range lies entirely in the future")]
    InFuture {
        start: DateTime<Utc>,
        now: DateTime<Utc>,
    },
    #[error(
        "invalid step `{0}`: use a whole number with s, m, h or d (e.g. 15m, 1h, 1d) that divides one day"
    )]
    Step(String),
}

impl Window {
    /// A window `[start, end)`; `start` must be before `end`.
    pub fn new(start: DateTime<Utc>, end: DateTime<Utc>) -> Result<Window, WindowError> {
        if start < end {
            Ok(Window { start, end })
        } else {
            Err(WindowError::Empty { start, end })
        }
    }

    /// The first instant in the window.
    pub fn start(&self) -> DateTime<Utc> {
        self.start
    }

    /// The first instant after the window.
    pub fn end(&self) -> DateTime<Utc> {
        self.end
    }

    /// `end - start`.
    pub fn duration(&self) -> TimeDelta {
        self.end - self.start
    }

    /// Whether `t` lies in `[start, end)`.
    pub fn contains(&self, t: DateTime<Utc>) -> bool {
        self.start <= t && t < self.end
    }

    /// The UTC date of the window's start (its partition date).
    pub fn date(&self) -> NaiveDate {
        self.start.date_naive()
    }

    /// Splits at the midpoint (rounded down to a whole microsecond, the finest
    /// precision the provider's datetimes are compared at) into two windows that
    /// together cover exactly this one; `None` when too short to split.
    pub fn split(&self) -> Option<(Window, Window)> {
        let half = (self.end - self.start) / 2;
        let micros = half.num_microseconds().unwrap_or(i64::MAX);
        let mid = self.start + TimeDelta::microseconds(micros);
        if mid <= self.start || mid >= self.end {
            return None;
        }
        Some((
            Window {
                start: self.start,
                end: mid,
            },
            Window {
                start: mid,
                end: self.end,
            },
        ))
    }

    /// A compact, sortable, filesystem-safe label such as
    /// `20261101T000000Z-20261101T010000Z` (fractional seconds are kept when present).
    pub fn label(&self) -> String {
        format!("{}-{}", compact(self.start), compact(self.end))
    }
}

fn compact(t: DateTime<Utc>) -> String {
    if t.timestamp_subsec_nanos() == 0 {
        t.format("%Y%m%dT%H%M%SZ").to_string()
    } else {
        t.format("%Y%m%dT%H%M%S%.9fZ").to_string()
    }
}

impl fmt::Display for Window {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "[{}, {})",
            crate::parse::format_datetime(&self.start),
            crate::parse::format_datetime(&self.end)
        )
    }
}

/// A planning step that divides one UTC day, so that every planned window lies
/// within one day (and one `date=` partition).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Step(TimeDelta);

impl Step {
    /// One hour.
    pub const HOUR: Step = Step(TimeDelta::hours(1));
    /// One day.
    pub const DAY: Step = Step(TimeDelta::days(1));

    /// A step of `seconds`, which must divide 86 400.
    pub fn from_seconds(seconds: i64) -> Option<Step> {
        (seconds > 0 && 86_400 % seconds == 0).then(|| Step(TimeDelta::seconds(seconds)))
    }

    /// The step's length.
    pub fn duration(&self) -> TimeDelta {
        self.0
    }

    /// The largest multiple of the step since the Unix epoch that is `<= t`.
    pub fn floor(&self, t: DateTime<Utc>) -> DateTime<Utc> {
        let step = self.0.num_nanoseconds().unwrap_or(i64::MAX) as i128;
        let secs = t.timestamp() as i128;
        let nanos = secs * 1_000_000_000 + t.timestamp_subsec_nanos() as i128;
        let floored = nanos - nanos.rem_euclid(step);
        let s = floored.div_euclid(1_000_000_000) as i64;
        let n = floored.rem_euclid(1_000_000_000) as u32;
        DateTime::from_timestamp(s, n).unwrap_or(t)
    }
}

impl FromStr for Step {
    type Err = WindowError;

    fn from_str(s: &str) -> Result<Step, WindowError> {
        parse_duration(s)
            .and_then(|d| Step::from_seconds(d.num_seconds()))
            .ok_or_else(|| WindowError::Step(s.to_string()))
    }
}

/// Parses a duration as every flag of the project writes one: a whole
/// number and a unit, `s`, `m` (or `min`), `h` or `d`, e.g. `0s`, `15m`,
/// `24h`, `7d`. `None` for anything else, or beyond about a hundred years.
///
/// ```
/// use cdr_core::{chrono::TimeDelta, parse_duration};
/// assert_eq!(parse_duration("15m"), Some(TimeDelta::minutes(15)));
/// assert_eq!(parse_duration(" 7d "), Some(TimeDelta::days(7)));
/// assert_eq!(parse_duration("1.5h"), None);
/// ```
pub fn parse_duration(s: &str) -> Option<TimeDelta> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit())?;
    let (num, unit) = t.split_at(split);
    let n: i64 = num.parse().ok()?;
    let mult = match unit {
        "s" => 1,
        "m" | "min" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return None,
    };
    n.checked_mul(mult)
        .filter(|secs| *secs <= 3_200_000_000)
        .map(TimeDelta::seconds)
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.0.num_seconds();
        if s % 86_400 == 0 {
            write!(f, "{}d", s / 86_400)
        } else if s % 3600 == 0 {
            write!(f, "{}h", s / 3600)
        } else if s % 60 == 0 {
            write!(f, "{}m", s / 60)
        } else {
            write!(f, "{s}s")
        }
    }
}

/// The windows covering `[start, end)`, cut at every multiple of `step` since the
/// epoch, with `end` clamped to `now`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// Ordered, disjoint, covering the (clamped) range exactly.
    pub windows: Vec<Window>,
    /// The end actually used: `min(end, now)`.
    pub end: DateTime<Utc>,
    /// Whether `end` was later than `now` and was clamped.
    pub clamped: bool,
}

/// Plans `[start, min(end, now))` into step-aligned windows. The first and last
/// window may be shorter than a step when `start` or `end` is not aligned.
///
/// `now` is truncated to a whole second first, so that a clamped end is a
/// bound every server compares at the same precision (a nanosecond bound that
/// a server truncates would move a record into the next window).
pub fn plan(
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    step: Step,
    now: DateTime<Utc>,
) -> Result<Plan, WindowError> {
    if start >= end {
        return Err(WindowError::Empty { start, end });
    }
    let now = whole_second(now);
    let clamped = end > now;
    let end = end.min(now);
    if start >= end {
        return Err(WindowError::InFuture { start, now });
    }
    let mut windows = Vec::new();
    let mut cur = start;
    while cur < end {
        let next = (step.floor(cur) + step.0).min(end);
        windows.push(Window {
            start: cur,
            end: next,
        });
        cur = next;
    }
    Ok(Plan {
        windows,
        end,
        clamped,
    })
}

/// `t` without its fraction of a second.
pub fn whole_second(t: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp(t.timestamp(), 0).unwrap_or(t)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::parse_datetime;
    use proptest::prelude::*;

    fn t(s: &str) -> DateTime<Utc> {
        parse_datetime(s).unwrap()
    }

    #[test]
    fn half_open() {
        let w = Window::new(t("2026-11-01T00:00:00Z"), t("2026-11-01T01:00:00Z")).unwrap();
        assert!(w.contains(t("2026-11-01T00:00:00Z")));
        assert!(w.contains(t("2026-11-01T00:59:59.999999999Z")));
        assert!(!w.contains(t("2026-11-01T01:00:00Z")));
        assert!(!w.contains(t("2026-10-31T23:59:59Z")));
        assert!(Window::new(w.end(), w.start()).is_err());
        assert!(Window::new(w.start(), w.start()).is_err());
    }

    #[test]
    fn steps_parse_and_must_divide_a_day() {
        assert_eq!("1h".parse::<Step>().unwrap(), Step::HOUR);
        assert_eq!("1d".parse::<Step>().unwrap(), Step::DAY);
        assert_eq!(
            "15m".parse::<Step>().unwrap().duration(),
            TimeDelta::minutes(15)
        );
        assert_eq!("15m".parse::<Step>().unwrap().to_string(), "15m");
        for bad in ["7h", "2d", "0h", "h", "1w", "-1h", "", "1.5h"] {
            assert!(bad.parse::<Step>().is_err(), "{bad}");
        }
    }

    #[test]
    fn plan_aligns_and_clamps() {
        let p = plan(
            t("2026-11-01T00:30:00Z"),
            t("2026-11-01T03:00:00Z"),
            Step::HOUR,
            t("2026-11-01T02:15:00Z"),
        )
        .unwrap();
        assert!(p.clamped);
        assert_eq!(p.end, t("2026-11-01T02:15:00Z"));
        // A clamped end is a whole second.
        let p = plan(
            t("2026-11-01T00:30:00Z"),
            t("2026-11-01T03:00:00Z"),
            Step::HOUR,
            t("2026-11-01T02:15:00.123456789Z"),
        )
        .unwrap();
        assert_eq!(p.end, t("2026-11-01T02:15:00Z"));
        let got: Vec<String> = p.windows.iter().map(|w| w.to_string()).collect();
        assert_eq!(
            got,
            [
                "[2026-11-01T00:30:00Z, 2026-11-01T01:00:00Z)",
                "[2026-11-01T01:00:00Z, 2026-11-01T02:00:00Z)",
                "[2026-11-01T02:00:00Z, 2026-11-01T02:15:00Z)",
            ]
        );
        let now = t("2026-11-01T00:00:00Z");
        assert!(matches!(
            plan(
                t("2026-11-02T00:00:00Z"),
                t("2026-11-03T00:00:00Z"),
                Step::DAY,
                now
            ),
            Err(WindowError::InFuture { .. })
        ));
        assert!(matches!(
            plan(now, now, Step::DAY, now),
            Err(WindowError::Empty { .. })
        ));
    }

    #[test]
    fn labels_sort_and_are_path_safe() {
        let w = Window::new(t("2026-11-01T00:00:00Z"), t("2026-11-01T01:00:00.5Z")).unwrap();
        assert_eq!(w.label(), "20261101T000000Z-20261101T010000.500000000Z");
        assert!(!w.label().contains([':', '/', ' ']));
    }

    fn instant() -> impl Strategy<Value = DateTime<Utc>> {
        // 2020..2030, nanosecond resolution.
        (1_577_836_800i64..1_893_456_000i64, 0u32..1_000_000_000)
            .prop_map(|(s, n)| DateTime::from_timestamp(s, n).unwrap())
    }

    fn step() -> impl Strategy<Value = Step> {
        prop::sample::select(vec![1i64, 60, 900, 3600, 7200, 21_600, 86_400])
            .prop_map(|s| Step::from_seconds(s).unwrap())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn planned_windows_cover_the_range_exactly(
            start in instant(),
            len_s in 1i64..(10 * 86_400),
            extra_ns in 0i64..1_000_000_000,
            step in step(),
            now_offset in -86_400i64..(20 * 86_400),
            probes in prop::collection::vec(0.0f64..1.0, 16),
        ) {
            // Keep the number of windows bounded for 1 s steps.
            let len_s = if step.duration().num_seconds() == 1 { len_s.min(5000) } else { len_s };
            let end = start + TimeDelta::seconds(len_s) + TimeDelta::nanoseconds(extra_ns);
            let now = start + TimeDelta::seconds(now_offset);
            let now = whole_second(now) + TimeDelta::nanoseconds(extra_ns / 3);
            match plan(start, end, step, now) {
                Err(WindowError::InFuture { .. }) => prop_assert!(whole_second(now) <= start),
                Err(e) => return Err(TestCaseError::fail(format!("{e}"))),
                Ok(p) => {
                    let now = whole_second(now);
                    prop_assert_eq!(p.end, end.min(now));
                    prop_assert_eq!(p.clamped, end > now);
                    prop_assert_eq!(p.end.timestamp_subsec_nanos() == 0, p.clamped || end.timestamp_subsec_nanos() == 0);
                    prop_assert_eq!(p.windows.first().unwrap().start(), start);
                    prop_assert_eq!(p.windows.last().unwrap().end(), p.end);
                    for pair in p.windows.windows(2) {
                        // Ordered, touching, disjoint.
                        prop_assert_eq!(pair[0].end(), pair[1].start());
                    }
                    for w in &p.windows {
                        prop_assert!(w.start() < w.end());
                        prop_assert!(w.duration() <= step.duration());
                        // Inner boundaries are aligned; each window stays in one day.
                        prop_assert_eq!(step.floor(w.start()), step.floor(w.end() - TimeDelta::nanoseconds(1)));
                        prop_assert_eq!(w.start().date_naive(), (w.end() - TimeDelta::nanoseconds(1)).date_naive());
                    }
                    // Every instant falls in exactly one window; instants outside in none.
                    let span = (p.end - start).num_nanoseconds().unwrap() as f64;
                    let mut instants: Vec<DateTime<Utc>> = probes.iter()
                        .map(|f| start + TimeDelta::nanoseconds((span * f) as i64))
                        .collect();
                    instants.extend(p.windows.iter().step_by(97).map(|w| w.start()));
                    instants.extend(p.windows.iter().step_by(89).map(|w| w.end()));
                    instants.push(start - TimeDelta::nanoseconds(1));
                    instants.push(p.end);
                    for i in instants {
                        // Windows are sorted: only the neighbours of the insertion point can hold i.
                        let k = p.windows.partition_point(|w| w.end() <= i);
                        let n = p.windows[k.saturating_sub(1)..(k + 2).min(p.windows.len())]
                            .iter().filter(|w| w.contains(i)).count();
                        let inside = start <= i && i < p.end;
                        prop_assert_eq!(n, usize::from(inside), "instant {}", i);
                    }
                }
            }
        }

        #[test]
        fn splitting_loses_and_duplicates_nothing(
            start in instant(),
            len_ns in 2_000i64..(86_400i64 * 1_000_000_000),
            probes in prop::collection::vec(0.0f64..1.0, 16),
        ) {
            let w = Window::new(start, start + TimeDelta::nanoseconds(len_ns)).unwrap();
            let (a, b) = w.split().unwrap();
            prop_assert_eq!(a.start(), w.start());
            prop_assert_eq!(a.end(), b.start());
            prop_assert_eq!(b.end(), w.end());
            for f in probes {
                let i = start + TimeDelta::nanoseconds((len_ns as f64 * f) as i64);
                prop_assert_eq!(usize::from(a.contains(i)) + usize::from(b.contains(i)), usize::from(w.contains(i)));
            }
        }
    }

    #[test]
    fn tiny_windows_do_not_split() {
        let s = t("2026-11-01T00:00:00Z");
        let w = Window::new(s, s + TimeDelta::nanoseconds(1500)).unwrap();
        assert!(w.split().is_none());
    }
}

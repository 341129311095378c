//! Live counters of a run, per type, shared by the workers, the terminal
//! progress display and the final summary.

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

use cdr_core::CdrType;

/// Counters of one type.
#[derive(Debug, Default)]
pub struct TypeCounters {
    pub units_total: AtomicU64,
    pub units_skipped: AtomicU64,
    pub units_done: AtomicU64,
    pub units_failed: AtomicU64,
    pub records: AtomicU64,
    pub pages: AtomicU64,
    pub files: AtomicU64,
    pub bytes: AtomicU64,
    pub skipped_members: AtomicU64,
    /// Skipped elements per union member name.
    pub unknown_members: std::sync::Mutex<BTreeMap<String, u64>>,
    /// Units that another run finished while this one waited for them.
    pub units_elsewhere: AtomicU64,
    /// Records that cannot be stored, kept in quarantine files.
    pub quarantined: AtomicU64,
    pub retries: AtomicU64,
    /// Milliseconds from the start of the run to the last unit that ended.
    pub last_end_ms: AtomicU64,
    /// Nanoseconds of windows finished (for the ETA).
    pub window_nanos_done: AtomicU64,
    pub window_nanos_total: AtomicU64,
}

impl TypeCounters {
    /// Counts `n` skipped elements of union member `name`.
    pub fn note_unknown(&self, name: &str, n: u64) {
        let mut m = self
            .unknown_members
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        *m.entry(name.to_string()).or_default() += n;
    }

    /// Skipped elements per union member name.
    pub fn unknown_members(&self) -> BTreeMap<String, u64> {
        self.unknown_members
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

/// Counters of every type in a run.
#[derive(Debug)]
pub struct Progress {
    pub started: Instant,
    types: BTreeMap<CdrType, TypeCounters>,
}

impl Progress {
    pub fn new(types: &[CdrType]) -> Arc<Progress> {
        Arc::new(Progress {
            started: Instant::now(),
            types: types
                .iter()
                .map(|&t| (t, TypeCounters::default()))
                .collect(),
        })
    }

    /// The counters of `t` (every type of the plan has some).
    pub fn of(&self, t: CdrType) -> &TypeCounters {
        // Types come from the plan that built this Progress.
        static EMPTY: std::sync::OnceLock<TypeCounters> = std::sync::OnceLock::new();
        self.types
            .get(&t)
            .unwrap_or_else(|| EMPTY.get_or_init(TypeCounters::default))
    }

    pub fn types(&self) -> impl Iterator<Item = (CdrType, &TypeCounters)> {
        self.types.iter().map(|(t, c)| (*t, c))
    }

    /// One line per type, e.g.
    /// `SMS    1,234,567 records  1,235 pages  412,345 rec/s  units 10/24  ETA 00:01:12`.
    pub fn render(&self) -> Vec<String> {
        let elapsed = self.started.elapsed().as_secs_f64().max(1e-3);
        self.types()
            .map(|(t, c)| {
                let records = c.records.load(Relaxed);
                let done = c.units_done.load(Relaxed)
                    + c.units_skipped.load(Relaxed)
                    + c.units_elsewhere.load(Relaxed);
                let total = c.units_total.load(Relaxed);
                let frac = {
                    let tot = c.window_nanos_total.load(Relaxed) as f64;
                    if tot > 0.0 {
                        c.window_nanos_done.load(Relaxed) as f64 / tot
                    } else {
                        0.0
                    }
                };
                let eta = if frac > 0.0 && frac < 1.0 {
                    format_duration(Duration::from_secs_f64(elapsed * (1.0 - frac) / frac))
                } else {
                    "--:--:--".into()
                };
                format!(
                    "{:<6}{:>14} records {:>9} pages {:>11} rec/s  units {done}/{total}  ETA {eta}",
                    t.as_str(),
                    group(records),
                    group(c.pages.load(Relaxed)),
                    group((records as f64 / elapsed) as u64),
                )
            })
            .collect()
    }
}

/// `1234567` as `1,234,567`.
pub fn group(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, ch) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

/// `HH:MM:SS`.
pub fn format_duration(d: Duration) -> String {
    let s = d.as_secs();
    format!("{:02}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
}

/// Redraws the progress lines on a terminal every `every` until stopped.
pub fn spawn_display(progress: Arc<Progress>, every: Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut drawn = 0usize;
        let mut tick = tokio::time::interval(every);
        loop {
            tick.tick().await;
            let lines = progress.render();
            let mut err = std::io::stderr().lock();
            // Move up over the previous drawing, then rewrite each line.
            if drawn > 0 {
                let _ = write!(err, "\x1b[{drawn}A");
            }
            for l in &lines {
                let _ = writeln!(err, "\r\x1b[K{l}");
            }
            drawn = lines.len();
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grouping_and_durations() {
        assert_eq!(group(0), "0");
        assert_eq!(group(999), "999");
        assert_eq!(group(1000), "1,000");
        assert_eq!(group(1234567), "1,234,567");
        assert_eq!(format_duration(Duration::from_secs(3725)), "01:02:05");
    }

    #[test]
    fn render_shows_each_type() {
        let p = Progress::new(&[CdrType::Sms, CdrType::Voice]);
        p.of(CdrType::Sms).records.store(1500, Relaxed);
        p.of(CdrType::Sms).units_total.store(4, Relaxed);
        p.of(CdrType::Sms).units_done.store(1, Relaxed);
        let lines = p.render();
        assert_eq!(lines.len(), 2);
        assert!(lines[0].starts_with("SMS"), "{}", lines[0]);
        assert!(lines[0].contains("1,500 records"), "{}", lines[0]);
        assert!(lines[0].contains("units 1/4"), "{}", lines[0]);
        assert!(lines[1].starts_with("VOICE"));
    }
}

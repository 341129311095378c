//! The store's clock: the `Date` header of S3's answers.
//!
//! Claims on an archive expire by the store's time, never by comparing the
//! wall clocks of two machines. Every answer S3 sends carries a `Date`; an
//! interceptor on the client keeps the latest one, and [`StoreClock::now`]
//! adds the time passed since it arrived.

use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime};

use aws_sdk_s3::config::interceptors::BeforeDeserializationInterceptorContextRef;
use aws_sdk_s3::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_s3::error::BoxError;
use aws_sdk_s3::primitives::{DateTime, DateTimeFormat};

/// The latest `Date` an answer carried, and when it arrived.
#[derive(Debug, Clone, Default)]
pub(crate) struct StoreClock {
    last: Arc<Mutex<Option<(SystemTime, Instant)>>>,
}

impl StoreClock {
    /// The store's time now, from its latest answer; `None` before any.
    pub(crate) fn now(&self) -> Option<SystemTime> {
        let last = *self.last.lock().unwrap_or_else(|p| p.into_inner());
        last.map(|(date, at)| date + at.elapsed())
    }

    fn record(&self, header: &str) {
        let Ok(date) = DateTime::from_str(header.trim(), DateTimeFormat::HttpDate) else {
            return;
        };
        let Ok(date) = SystemTime::try_from(date) else {
            return;
        };
        *self.last.lock().unwrap_or_else(|p| p.into_inner()) = Some((date, Instant::now()));
    }
}

impl Intercept for StoreClock {
    fn name(&self) -> &'static str {
        "cdr-sink store clock"
    }

    fn read_after_transmit(
        &self,
        context: &BeforeDeserializationInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let Some(date) = context.response().headers().get("date") {
            self.record(date);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_latest_date_header_sets_the_clock() {
        let clock = StoreClock::default();
        assert_eq!(clock.now(), None);
        clock.record("not a date");
        assert_eq!(clock.now(), None);
        clock.record("Mon, 30 Nov 2026 08:00:00 GMT");
        let t = clock.now().expect("a date was recorded");
        let since = t
            .duration_since(SystemTime::UNIX_EPOCH)
            .expect("after the epoch")
            .as_secs();
        // 2026-11-30T08:00:00Z, plus the microseconds since it was recorded.
        assert!((1_796_025_600..1_796_025_660).contains(&since), "{since}");
    }
}

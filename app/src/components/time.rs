//! Times as people read them, in UTC and saying so: a page is rendered from
//! the same data wherever it runs, so it never guesses a time zone, and the
//! server's HTML and the browser's agree to the letter.
//!
//! The server formats with chrono. The browser formats the wire's RFC 3339
//! strings with its own `Date` (see `model::Timestamp`); a string it cannot
//! read is shown as it came.

use crate::model::Timestamp;

/// "23 Nov 2026, 09:05 UTC".
pub fn format_time(time: &Timestamp) -> String {
    let Some(parts) = Parts::of(time) else {
        return time.to_string();
    };
    format!(
        "{} {} {}, {:02}:{:02} UTC",
        parts.day,
        &MONTHS[parts.month][..3],
        parts.year,
        parts.hour,
        parts.minute
    )
}

/// "23 November 2026".
pub fn format_date(time: &Timestamp) -> String {
    let Some(parts) = Parts::of(time) else {
        return time.to_string();
    };
    format!("{} {} {}", parts.day, MONTHS[parts.month], parts.year)
}

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// The fields shown, in UTC; `month` counts from 0.
struct Parts {
    year: i32,
    month: usize,
    day: u32,
    hour: u32,
    minute: u32,
}

impl Parts {
    #[cfg(not(target_arch = "wasm32"))]
    fn of(time: &Timestamp) -> Option<Self> {
        use chrono::{Datelike, Timelike};
        Some(Self {
            year: time.year(),
            month: time.month0() as usize,
            day: time.day(),
            hour: time.hour(),
            minute: time.minute(),
        })
    }

    #[cfg(target_arch = "wasm32")]
    fn of(time: &Timestamp) -> Option<Self> {
        let date = js_sys::Date::new(&time.as_str().into());
        // An unreadable string gives a date whose time is NaN.
        if date.get_time().is_nan() {
            return None;
        }
        Some(Self {
            year: i32::try_from(date.get_utc_full_year()).ok()?,
            month: date.get_utc_month() as usize,
            day: date.get_utc_date(),
            hour: date.get_utc_hours(),
            minute: date.get_utc_minutes(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // `tests/wasm.rs` checks the browser's side with the same pairs.
    #[test]
    fn times_say_they_are_utc() {
        for (wire, shown) in [
            ("2026-11-23T09:05:59Z", "23 Nov 2026, 09:05 UTC"),
            // As the server sends them: nanoseconds, and a single-digit day.
            ("2026-12-01T00:07:00.123456789Z", "1 Dec 2026, 00:07 UTC"),
        ] {
            assert_eq!(format_time(&wire.parse().unwrap()), shown);
        }
    }

    #[test]
    fn dates_name_the_month_in_full() {
        let time = "2026-09-03T23:59:59.5Z".parse().unwrap();
        assert_eq!(format_date(&time), "3 September 2026");
    }
}

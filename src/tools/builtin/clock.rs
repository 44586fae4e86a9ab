//! The `get_date_time` built-in: the local date and time in words, from the C library's
//! `localtime_r` (the system's time zone, `TZ` included).

use std::time::{SystemTime, UNIX_EPOCH};

const WEEKDAYS: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];

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

/// A moment as the local calendar and clock show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalTime {
    /// The year (2026).
    pub year: i32,
    /// 1 to 12.
    pub month: u32,
    /// 1 to 31.
    pub day: u32,
    /// 0 is Sunday.
    pub weekday: u32,
    /// 0 to 23.
    pub hour: u32,
    /// 0 to 59.
    pub minute: u32,
    /// East of UTC, in seconds.
    pub utc_offset_s: i64,
    /// The zone's abbreviation (`CET`, `UTC`), when the C library gives one.
    pub zone: String,
}

/// `at` in the local time zone; `None` if the C library cannot convert it.
pub fn local_time(at: SystemTime) -> Option<LocalTime> {
    let seconds = match at.duration_since(UNIX_EPOCH) {
        Ok(after) => libc::time_t::try_from(after.as_secs()).ok()?,
        Err(before) => -libc::time_t::try_from(before.duration().as_secs()).ok()?,
    };
    // SAFETY: `tm` is plain old data that localtime_r fills in; both pointers are valid for the
    // call, and localtime_r (unlike localtime) keeps no pointer to them.
    let tm = unsafe {
        let mut tm: libc::tm = std::mem::zeroed();
        if libc::localtime_r(&seconds, &mut tm).is_null() {
            return None;
        }
        tm
    };
    let zone = if tm.tm_zone.is_null() {
        String::new()
    } else {
        // SAFETY: a non-null tm_zone points at a NUL-terminated name the C library keeps alive.
        unsafe { std::ffi::CStr::from_ptr(tm.tm_zone) }
            .to_string_lossy()
            .into_owned()
    };
    Some(LocalTime {
        year: tm.tm_year + 1900,
        month: u32::try_from(tm.tm_mon + 1).ok()?,
        day: u32::try_from(tm.tm_mday).ok()?,
        weekday: u32::try_from(tm.tm_wday).ok()?,
        hour: u32::try_from(tm.tm_hour).ok()?,
        minute: u32::try_from(tm.tm_min).ok()?,
        // c_long: i64 here, i32 on 32-bit targets.
        #[allow(clippy::useless_conversion)]
        utc_offset_s: i64::from(tm.tm_gmtoff),
        zone,
    })
}

/// `Monday 7 December 2026, 20:51 (UTC+01:00, CET)`.
pub fn describe(time: &LocalTime) -> String {
    let weekday = WEEKDAYS[time.weekday as usize % 7];
    let month = MONTHS[(time.month as usize + 11) % 12];
    let sign = if time.utc_offset_s < 0 { '-' } else { '+' };
    let offset_min = time.utc_offset_s.abs() / 60;
    let zone = match time.zone.as_str() {
        "" | "UTC" | "GMT" => String::new(),
        zone => format!(", {zone}"),
    };
    format!(
        "{weekday} {} {month} {}, {:02}:{:02} (UTC{sign}{:02}:{:02}{zone})",
        time.day,
        time.year,
        time.hour,
        time.minute,
        offset_min / 60,
        offset_min % 60
    )
}

/// Days since 1970-01-01 of a date of the proleptic Gregorian calendar.
#[cfg(test)]
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn the_local_fields_and_the_offset_give_back_the_instant() {
        // 2026-12-07 20:51:00 UTC.
        let instant = 1_796_676_660;
        let local = local_time(UNIX_EPOCH + Duration::from_secs(instant)).unwrap();
        let local_seconds = days_from_civil(
            i64::from(local.year),
            i64::from(local.month),
            i64::from(local.day),
        ) * 86_400
            + i64::from(local.hour) * 3600
            + i64::from(local.minute) * 60;
        assert_eq!(local_seconds - local.utc_offset_s, instant as i64);
        // 7 December 2026 is a Monday in every zone where it is 7 December then.
        if local.day == 7 {
            assert_eq!(local.weekday, 1);
        }
    }

    #[test]
    fn the_words_name_weekday_date_clock_and_zone() {
        let time = LocalTime {
            year: 2026,
            month: 12,
            day: 7,
            weekday: 1,
            hour: 9,
            minute: 5,
            utc_offset_s: -(5 * 3600 + 30 * 60),
            zone: "XST".into(),
        };
        assert_eq!(
            describe(&time),
            "Monday 7 December 2026, 09:05 (UTC-05:30, XST)"
        );
        let utc = LocalTime {
            utc_offset_s: 0,
            zone: "UTC".into(),
            ..time
        };
        assert_eq!(describe(&utc), "Monday 7 December 2026, 09:05 (UTC+00:00)");
    }
}

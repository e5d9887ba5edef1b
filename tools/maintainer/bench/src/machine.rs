//! Where and when figures were measured, as a table of them says: the day
//! (UTC) and the machine's CPU, with no host name or path.

use std::time::{SystemTime, UNIX_EPOCH};

/// The day and the machine a measurement was taken on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Measured {
    /// The day, UTC, as `YYYY-MM-DD`.
    pub date: String,
    /// The CPU's model name.
    pub cpu: String,
    /// The machine's logical cores.
    pub cores: usize,
}

impl Measured {
    /// Today, on this machine: its CPU as `/proc/cpuinfo` names it (an
    /// unknown CPU where there is none).
    pub fn here_and_now() -> Self {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let (cpu, cores) = cpu_of(&cpuinfo);
        Self {
            date: utc_date(SystemTime::now()),
            cpu,
            cores,
        }
    }
}

/// The model name of the first processor in `cpuinfo` (the text of
/// `/proc/cpuinfo`), and how many processors it lists.
pub fn cpu_of(cpuinfo: &str) -> (String, usize) {
    let field = |line: &str, name: &str| {
        line.split_once(':')
            .filter(|(key, _)| key.trim() == name)
            .map(|(_, value)| value.trim().to_owned())
    };
    let model = cpuinfo
        .lines()
        .find_map(|line| field(line, "model name"))
        .unwrap_or_else(|| "an unknown CPU".to_owned());
    let cores = cpuinfo
        .lines()
        .filter(|line| field(line, "processor").is_some())
        .count();
    (model, cores)
}

/// The day `at` falls on, UTC, as `YYYY-MM-DD` (the proleptic Gregorian
/// calendar, from the days since 1970-01-01).
pub fn utc_date(at: SystemTime) -> String {
    let days = at
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_secs() / 86_400);
    // Howard Hinnant's `civil_from_days`, for days on or after the epoch:
    // counted in 400-year eras from 0000-03-01, so that a leap day ends
    // its year.
    let shifted = days + 719_468;
    let era = shifted / 146_097;
    let day_of_era = shifted - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    };
    let year = year_of_era + era * 400 + u64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}

#[cfg(test)]
mod tests {
    use super::*;

    use std::time::Duration;

    #[test]
    fn days_are_counted_in_utc_across_leap_years() {
        let at = |seconds: u64| utc_date(UNIX_EPOCH + Duration::from_secs(seconds));
        assert_eq!(at(0), "1970-01-01");
        assert_eq!(at(951_782_400), "2000-02-29");
        assert_eq!(at(951_868_799), "2000-02-29");
        assert_eq!(at(951_868_800), "2000-03-01");
        assert_eq!(at(1_700_000_000), "2023-11-14");
    }

    #[test]
    fn the_cpu_is_the_first_model_name_and_the_cores_are_the_processors() {
        let cpuinfo = "processor\t: 0\nvendor_id\t: GenuineIntel\nmodel name\t: Intel(R) Xeon(R) CPU @ 2.20GHz\n\n\
                       processor\t: 1\nmodel name\t: Intel(R) Xeon(R) CPU @ 2.20GHz\n";
        assert_eq!(
            cpu_of(cpuinfo),
            ("Intel(R) Xeon(R) CPU @ 2.20GHz".to_owned(), 2)
        );
        assert_eq!(cpu_of(""), ("an unknown CPU".to_owned(), 0));
    }
}

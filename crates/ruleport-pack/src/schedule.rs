//! A rule's schedule in each product's form: Elastic `interval`/`from`, Splunk cron and dispatch
//! times, Sentinel `queryFrequency`/`queryPeriod` (`5m` in YAML, `PT5M` in ARM).

// `u64::is_multiple_of` needs Rust 1.87; the workspace supports 1.85.
#![allow(clippy::manual_is_multiple_of)]

use ruleport_model::{Approximation, Detection, Rule, TimeSpan};

/// Elastic's default run interval.
pub const DEFAULT_INTERVAL_MS: u64 = 5 * 60_000;

const MINUTE: u64 = 60_000;
const HOUR: u64 = 60 * MINUTE;
const DAY: u64 = 24 * HOUR;

/// Elastic date math `now-<n><unit>[/<unit>]`: how far back, and the rounding unit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DateMath {
    pub back: TimeSpan,
    /// Amount and unit as written (`25`, `m`), for a faithful Splunk form.
    pub amount: u64,
    pub unit: char,
    pub round: Option<char>,
}

/// Parse `now-25m`, `now-30d/d`, `now` (zero look-back).
pub fn parse_date_math(s: &str) -> Option<DateMath> {
    let s = s.trim();
    let rest = s.strip_prefix("now")?;
    let (body, round) = match rest.split_once('/') {
        Some((b, r)) => {
            let mut cs = r.chars();
            let u = cs.next()?;
            if cs.next().is_some() || !"smhdwMy".contains(u) {
                return None;
            }
            (b, Some(u))
        }
        None => (rest, None),
    };
    if body.is_empty() {
        return Some(DateMath {
            back: TimeSpan::from_millis(0),
            amount: 0,
            unit: 'm',
            round,
        });
    }
    let body = body.strip_prefix('-')?;
    let split = body.find(|c: char| !c.is_ascii_digit())?;
    let (num, unit) = body.split_at(split);
    let amount: u64 = num.parse().ok()?;
    let mut uc = unit.chars();
    let unit = uc.next()?;
    if uc.next().is_some() {
        return None;
    }
    let ms = match unit {
        's' => 1_000,
        'm' => MINUTE,
        'h' => HOUR,
        'd' => DAY,
        'w' => 7 * DAY,
        'M' => 30 * DAY,
        'y' => 365 * DAY,
        _ => return None,
    };
    Some(DateMath {
        back: TimeSpan::from_millis(amount.checked_mul(ms)?),
        amount,
        unit,
        round,
    })
}

/// A rule's schedule, with Elastic's defaults filled in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    pub interval: TimeSpan,
    /// Elastic `from` as it will be written.
    pub from: String,
    /// How far back each run looks (from `from`, widened to the detection's own window).
    pub lookback: TimeSpan,
    /// Rounding of `from` (`/d`), kept when the look-back is `from`'s.
    pub round: Option<char>,
    pub approximations: Vec<Approximation>,
}

impl Schedule {
    /// The schedule of a rule: its interval (default 5m) and `from` (default interval + 1m, as
    /// Kibana does), with the look-back widened to any correlation window it needs.
    pub fn of(rule: &Rule) -> Schedule {
        let mut approximations = Vec::new();
        let interval = rule
            .meta
            .interval
            .filter(|i| i.millis > 0)
            .unwrap_or(TimeSpan::from_millis(DEFAULT_INTERVAL_MS));
        let default_from = format!("now-{}", TimeSpan::from_millis(interval.millis + MINUTE));
        let (from, math) = match rule.meta.from.as_deref().map(|f| (f, parse_date_math(f))) {
            Some((f, Some(m))) => (f.trim().to_string(), m),
            Some((f, None)) => {
                approximations.push(Approximation::new(
                    "schedule-from-unreadable",
                    format!("look-back `{f}` is not Elastic date math; using {default_from}"),
                ));
                let m = parse_date_math(&default_from).unwrap_or(DateMath {
                    back: interval,
                    amount: 0,
                    unit: 'm',
                    round: None,
                });
                (default_from, m)
            }
            None => {
                let m = parse_date_math(&default_from).unwrap_or(DateMath {
                    back: interval,
                    amount: 0,
                    unit: 'm',
                    round: None,
                });
                (default_from, m)
            }
        };
        let (mut lookback, mut round) = (math.back, math.round);
        if let Some(w) = detection_window(&rule.detection) {
            if w > lookback {
                lookback = w;
                round = None;
            }
        }
        Schedule {
            interval,
            from,
            lookback,
            round,
            approximations,
        }
    }

    /// Splunk `cron_schedule`, and an approximation when the interval has no exact cron form.
    pub fn cron(&self) -> (String, Option<Approximation>) {
        cron_for(self.interval)
    }

    /// Splunk `dispatch.earliest_time` (`-25m`, `-30d@d`).
    pub fn splunk_earliest(&self) -> String {
        splunk_relative(self.lookback, self.round)
    }
}

/// The longest time window a multi-event detection correlates over.
pub fn detection_window(d: &Detection) -> Option<TimeSpan> {
    match d {
        Detection::Sequence(s) => s.maxspan,
        Detection::Sample(s) => s.window,
        Detection::Aggregation(a) => a.window,
        _ => None,
    }
}

/// Splunk relative time for a look-back: the largest unit that divides it (`-25m`, `-2h`, `-7d`).
pub fn splunk_relative(span: TimeSpan, round: Option<char>) -> String {
    if span.millis == 0 {
        return "now".into();
    }
    let ms = span.millis;
    let body = if ms % DAY == 0 {
        format!("-{}d", ms / DAY)
    } else if ms % HOUR == 0 {
        format!("-{}h", ms / HOUR)
    } else if ms % MINUTE == 0 {
        format!("-{}m", ms / MINUTE)
    } else {
        format!("-{}s", ms.div_ceil(1000))
    };
    match round.and_then(splunk_unit) {
        Some(u) => format!("{body}@{u}"),
        None => body,
    }
}

fn splunk_unit(c: char) -> Option<&'static str> {
    Some(match c {
        's' => "s",
        'm' => "m",
        'h' => "h",
        'd' => "d",
        'w' => "w",
        'M' => "mon",
        'y' => "y",
        _ => return None,
    })
}

/// Cron for an interval: exact when the interval divides the hour or the day.
pub fn cron_for(interval: TimeSpan) -> (String, Option<Approximation>) {
    let ms = interval.millis;
    let irregular = |cron: String, why: &str| {
        let reason = format!("interval {interval} has no exact cron form; `{cron}` {why}");
        (cron, Some(Approximation::new("schedule-cron", reason)))
    };
    if ms < MINUTE {
        return irregular("* * * * *".into(), "runs every minute");
    }
    if ms % MINUTE == 0 && ms < HOUR {
        let m = ms / MINUTE;
        let cron = if m == 1 {
            "* * * * *".to_string()
        } else {
            format!("*/{m} * * * *")
        };
        if 60 % m == 0 {
            return (cron, None);
        }
        return irregular(cron, "restarts at each hour");
    }
    if ms % HOUR == 0 && ms < DAY {
        let h = ms / HOUR;
        let cron = if h == 1 {
            "0 * * * *".to_string()
        } else {
            format!("0 */{h} * * *")
        };
        if 24 % h == 0 {
            return (cron, None);
        }
        return irregular(cron, "restarts at midnight");
    }
    if ms == DAY {
        return ("0 0 * * *".into(), None);
    }
    if ms % DAY == 0 {
        let d = ms / DAY;
        return irregular(format!("0 0 */{d} * *"), "restarts each month");
    }
    // Not a whole number of minutes or hours: round up to whole minutes.
    let m = ms.div_ceil(MINUTE);
    if m < 60 {
        return irregular(format!("*/{m} * * * *"), "runs on whole minutes");
    }
    let h = ms.div_ceil(HOUR);
    irregular(format!("0 */{} * * *", h.min(23)), "runs on whole hours")
}

/// ISO 8601 duration for ARM (`PT5M`, `PT1H`, `P1D`); seconds are rounded up to minutes.
pub fn iso8601(span: TimeSpan) -> String {
    let ms = span.millis;
    if ms > 0 && ms % DAY == 0 {
        format!("P{}D", ms / DAY)
    } else if ms > 0 && ms % HOUR == 0 {
        format!("PT{}H", ms / HOUR)
    } else {
        format!("PT{}M", ms.div_ceil(MINUTE))
    }
}

/// Sentinel YAML duration (`5m`, `1h`, `1d`); `None` unless a whole number of minutes.
pub fn sentinel_duration(span: TimeSpan) -> Option<String> {
    let ms = span.millis;
    if ms == 0 || ms % MINUTE != 0 {
        return None;
    }
    Some(if ms % DAY == 0 {
        format!("{}d", ms / DAY)
    } else if ms % HOUR == 0 {
        format!("{}h", ms / HOUR)
    } else {
        format!("{}m", ms / MINUTE)
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn span(s: &str) -> TimeSpan {
        TimeSpan::parse(s).unwrap()
    }

    #[test]
    fn date_math() {
        let m = parse_date_math("now-25m").unwrap();
        assert_eq!((m.back, m.round), (span("25m"), None));
        let m = parse_date_math("now-30d/d").unwrap();
        assert_eq!((m.back, m.round), (span("30d"), Some('d')));
        assert_eq!(parse_date_math("now").unwrap().back.millis, 0);
        assert!(parse_date_math("yesterday").is_none());
        assert!(parse_date_math("now-5x").is_none());
    }

    #[test]
    fn cron_forms() {
        assert_eq!(cron_for(span("5m")), ("*/5 * * * *".into(), None));
        assert_eq!(cron_for(span("1m")), ("* * * * *".into(), None));
        assert_eq!(cron_for(span("60m")), ("0 * * * *".into(), None));
        assert_eq!(cron_for(span("6h")), ("0 */6 * * *".into(), None));
        assert_eq!(cron_for(span("1d")), ("0 0 * * *".into(), None));
        let (c, a) = cron_for(span("7m"));
        assert_eq!(c, "*/7 * * * *");
        assert_eq!(a.map(|a| a.code), Some("schedule-cron".into()));
        assert!(cron_for(span("30s")).1.is_some());
    }

    #[test]
    fn durations() {
        assert_eq!(iso8601(span("5m")), "PT5M");
        assert_eq!(iso8601(span("25m")), "PT25M");
        assert_eq!(iso8601(span("2h")), "PT2H");
        assert_eq!(iso8601(span("14d")), "P14D");
        assert_eq!(iso8601(span("90s")), "PT2M");
        assert_eq!(sentinel_duration(span("5m")).as_deref(), Some("5m"));
        assert_eq!(sentinel_duration(span("120m")).as_deref(), Some("2h"));
        assert_eq!(sentinel_duration(span("90s")), None);
        assert_eq!(splunk_relative(span("25m"), None), "-25m");
        assert_eq!(splunk_relative(span("30d"), Some('d')), "-30d@d");
    }
}

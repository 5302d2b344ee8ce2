//! Repeated measurements: median, min and max, and the process's peak memory.

use std::time::{Duration, Instant};

/// Median, min and max of repeated measurements.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Spread {
    pub(crate) median: f64,
    pub(crate) min: f64,
    pub(crate) max: f64,
}

impl Spread {
    /// Summarise samples (at least one).
    pub(crate) fn of(samples: &[f64]) -> Spread {
        let mut v: Vec<f64> = samples.to_vec();
        v.sort_by(f64::total_cmp);
        let n = v.len();
        let median = match n {
            0 => f64::NAN,
            _ if n % 2 == 1 => v[n / 2],
            _ => (v[n / 2 - 1] + v[n / 2]) / 2.0,
        };
        Spread {
            median,
            min: v.first().copied().unwrap_or(f64::NAN),
            max: v.last().copied().unwrap_or(f64::NAN),
        }
    }

    /// The spread of `f(sample)` for each sample: a rate from a time keeps min and max paired right.
    pub(crate) fn map(samples: &[f64], f: impl Fn(f64) -> f64) -> Spread {
        Spread::of(&samples.iter().map(|&x| f(x)).collect::<Vec<_>>())
    }

    /// `median (min–max)` with a unit and a precision chosen for the magnitude.
    pub(crate) fn show(&self, unit: &str) -> String {
        format!(
            "{} {unit} (min {}, max {})",
            num(self.median),
            num(self.min),
            num(self.max)
        )
    }
}

/// A number with thousands separators, or three significant decimals below 100.
pub(crate) fn num(x: f64) -> String {
    if !x.is_finite() {
        return format!("{x}");
    }
    if x.abs() >= 100.0 {
        let s = format!("{:.0}", x.round());
        let (sign, digits) = s.strip_prefix('-').map_or(("", s.as_str()), |d| ("-", d));
        let mut out = String::new();
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i) % 3 == 0 {
                out.push(',');
            }
            out.push(c);
        }
        format!("{sign}{out}")
    } else if x.abs() >= 1.0 {
        format!("{x:.2}")
    } else {
        format!("{x:.4}")
    }
}

/// Wall-clock and CPU seconds of repeated runs.
#[derive(Debug, Clone, Default)]
pub(crate) struct Runs {
    pub(crate) wall: Vec<f64>,
    /// CPU time of this process's threads (or of the child processes, for external tools).
    pub(crate) cpu: Vec<f64>,
}

impl Runs {
    pub(crate) fn push(&mut self, wall: f64, cpu: Option<f64>) {
        self.wall.push(wall);
        if let Some(c) = cpu {
            self.cpu.push(c);
        }
    }
}

/// Run `f` `runs` times: the wall-clock and CPU seconds of each run, and the last result.
pub(crate) fn time_runs<T>(runs: usize, mut f: impl FnMut() -> T) -> (Runs, Option<T>) {
    let mut out = Runs::default();
    let mut last = None;
    for _ in 0..runs {
        let c0 = process_cpu_secs();
        let t = Instant::now();
        let r = f();
        let wall = t.elapsed().as_secs_f64();
        let cpu = c0.zip(process_cpu_secs()).map(|(a, b)| b - a);
        out.push(wall, cpu);
        last = Some(r);
    }
    (out, last)
}

/// CPU seconds used so far by every thread of this process (`/proc/self/task/*/schedstat`).
pub(crate) fn process_cpu_secs() -> Option<f64> {
    let mut ns: u64 = 0;
    for t in std::fs::read_dir("/proc/self/task").ok()?.flatten() {
        let s = std::fs::read_to_string(t.path().join("schedstat")).ok()?;
        ns += s.split_whitespace().next()?.parse::<u64>().ok()?;
    }
    Some(ns as f64 / 1e9)
}

/// CPU seconds (user + system) of this process's waited-for children (`/proc/self/stat`).
pub(crate) fn children_cpu_secs() -> Option<f64> {
    let s = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the parenthesised command name; cutime and cstime are fields 16 and 17.
    let rest = &s[s.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = f.get(13)?.parse::<f64>().ok()? + f.get(14)?.parse::<f64>().ok()?;
    Some(ticks / 100.0)
}

/// Seconds as a human duration.
pub(crate) fn secs(x: f64) -> String {
    let d = Duration::from_secs_f64(x.max(0.0));
    if x >= 1.0 {
        format!("{:.2} s", d.as_secs_f64())
    } else {
        format!("{:.1} ms", d.as_secs_f64() * 1000.0)
    }
}

/// Peak resident set size of this process (VmHWM), in bytes.
pub(crate) fn peak_rss() -> Option<u64> {
    status_kib("VmHWM:").map(|k| k * 1024)
}

fn status_kib(key: &str) -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with(key))?;
    line[key.len()..]
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()
}

/// Reset the peak RSS to the current RSS (Linux `clear_refs` 5), so one phase's peak can be read.
pub(crate) fn reset_peak_rss() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// Bytes as MiB.
pub(crate) fn mib(b: u64) -> String {
    format!("{:.1} MiB", b as f64 / (1024.0 * 1024.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_and_even_counts() {
        let s = Spread::of(&[3.0, 1.0, 2.0]);
        assert_eq!((s.median, s.min, s.max), (2.0, 1.0, 3.0));
        assert_eq!(Spread::of(&[4.0, 1.0, 2.0, 3.0]).median, 2.5);
    }

    #[test]
    fn thousands_separators() {
        assert_eq!(num(1_234_567.4), "1,234,567");
        assert_eq!(num(-1234.0), "-1,234");
        assert_eq!(num(12.345), "12.35");
        assert_eq!(num(0.01234), "0.0123");
    }
}

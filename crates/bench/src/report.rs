//! The `BENCH` line format and the small statistics the benchmarks need.

use std::time::Duration;

/// How a measured value is compared with its target.
#[derive(Clone, Copy, Debug)]
pub enum Op {
    /// The value must be at most the target.
    AtMost,
    /// The value must be at least the target.
    AtLeast,
}

impl Op {
    fn symbol(self) -> &'static str {
        match self {
            Op::AtMost => "<=",
            Op::AtLeast => ">=",
        }
    }

    fn holds(self, value: f64, target: f64) -> bool {
        match self {
            Op::AtMost => value <= target,
            Op::AtLeast => value >= target,
        }
    }
}

/// One printed figure.
pub struct Line {
    pub name: String,
    pub value: f64,
    pub unit: &'static str,
    pub op: Op,
    pub target: f64,
}

impl Line {
    pub fn at_most(name: impl Into<String>, value: f64, unit: &'static str, target: f64) -> Self {
        Self {
            name: name.into(),
            value,
            unit,
            op: Op::AtMost,
            target,
        }
    }

    pub fn at_least(name: impl Into<String>, value: f64, unit: &'static str, target: f64) -> Self {
        Self {
            name: name.into(),
            value,
            unit,
            op: Op::AtLeast,
            target,
        }
    }

    /// `BENCH <name> <value> <unit> target <op> <value>`.
    pub fn render(&self) -> String {
        format!(
            "BENCH {} {} {} target {} {}",
            self.name,
            fmt_value(self.value),
            self.unit,
            self.op.symbol(),
            fmt_value(self.target)
        )
    }

    pub fn met(&self) -> bool {
        self.op.holds(self.value, self.target)
    }
}

fn fmt_value(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e12 {
        format!("{v:.0}")
    } else if v.abs() >= 100.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.3}")
    }
}

/// Latency samples with percentiles (nearest-rank).
#[derive(Default)]
pub struct Samples(Vec<Duration>);

impl Samples {
    pub fn push(&mut self, d: Duration) {
        self.0.push(d);
    }

    /// The `p`-th percentile in milliseconds (nearest rank), 0 when empty.
    pub fn percentile_ms(&self, p: f64) -> f64 {
        if self.0.is_empty() {
            return 0.0;
        }
        let mut sorted = self.0.clone();
        sorted.sort();
        let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
        let index = rank.clamp(1, sorted.len()) - 1;
        sorted[index].as_secs_f64() * 1000.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_the_documented_form() {
        let line = Line::at_most("pop.cold.p99", 4.2, "ms", 10.0);
        assert_eq!(
            line.render(),
            "BENCH pop.cold.p99 4.200 ms target <= 10",
            "the line must match `BENCH <name> <value> <unit> target <op> <value>`"
        );
        assert!(line.met(), "4.2 is within a target of at most 10");
    }

    #[test]
    fn at_least_renders_and_compares_upwards() {
        let line = Line::at_least(
            "sip.flood.active_call_packets_per_s",
            49.5,
            "packets/s",
            45.0,
        );
        assert_eq!(
            line.render(),
            "BENCH sip.flood.active_call_packets_per_s 49.500 packets/s target >= 45",
            "a floor target prints as >="
        );
        assert!(line.met(), "49.5 meets a floor of 45");
        assert!(
            !Line::at_least("x", 44.9, "packets/s", 45.0).met(),
            "44.9 misses a floor of 45"
        );
    }

    #[test]
    fn nearest_rank_percentiles() {
        let mut s = Samples::default();
        for ms in 1..=100 {
            s.push(Duration::from_millis(ms));
        }
        assert_eq!(
            s.percentile_ms(50.0),
            50.0,
            "p50 of 1..=100 ms is 50 ms by nearest rank"
        );
        assert_eq!(
            s.percentile_ms(99.0),
            99.0,
            "p99 of 1..=100 ms is 99 ms by nearest rank"
        );
        assert_eq!(
            Samples::default().percentile_ms(99.0),
            0.0,
            "no samples, no latency"
        );
    }
}

//! Load traces: per-second demand built from segments, with seeded noise so a trace is the same
//! on every run.

use serde::Deserialize;

/// One stretch of the trace, `for` seconds long.
#[derive(Debug, Clone, Deserialize)]
pub struct Segment {
    #[serde(rename = "for")]
    pub secs: u64,
    /// ± this many percent of uniform noise on every second's demand.
    #[serde(default)]
    pub noise: f64,
    #[serde(flatten)]
    pub shape: Shape,
}

/// The demand within a segment, by seconds since the segment started.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Shape {
    Constant {
        level: f64,
    },
    /// `from` until `at`, then `to`.
    Step {
        from: f64,
        to: f64,
        at: u64,
    },
    /// Linear from `from` to `to` over the segment.
    Ramp {
        from: f64,
        to: f64,
    },
    /// `base`, with `peak` for `width` seconds from `at`.
    Spike {
        base: f64,
        peak: f64,
        at: u64,
        width: u64,
    },
    /// `level + amplitude × sin(2π t / period)`.
    Sine {
        level: f64,
        amplitude: f64,
        period: f64,
    },
}

impl Shape {
    fn at(&self, t: u64, len: u64) -> f64 {
        match *self {
            Shape::Constant { level } => level,
            Shape::Step { from, to, at } => {
                if t < at {
                    from
                } else {
                    to
                }
            }
            Shape::Ramp { from, to } => from + (to - from) * t as f64 / len.max(1) as f64,
            Shape::Spike {
                base,
                peak,
                at,
                width,
            } => {
                if t >= at && t < at + width {
                    peak
                } else {
                    base
                }
            }
            Shape::Sine {
                level,
                amplitude,
                period,
            } => level + amplitude * (std::f64::consts::TAU * t as f64 / period).sin(),
        }
    }
}

/// xorshift64*: tiny, seedable, good enough for noise.
pub struct XorShift(u64);

impl XorShift {
    pub fn new(seed: u64) -> Self {
        // Zero is a fixed point of xorshift.
        XorShift(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in [-1, 1).
    pub fn symmetric(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0
    }
}

/// Demand for every second of the segments, in order; never negative.
pub fn trace(segments: &[Segment], seed: u64) -> Vec<f64> {
    let mut rng = XorShift::new(seed);
    let mut out = Vec::new();
    for seg in segments {
        for t in 0..seg.secs {
            let base = seg.shape.at(t, seg.secs);
            let noisy = if seg.noise > 0.0 {
                base * (1.0 + rng.symmetric() * seg.noise / 100.0)
            } else {
                base
            };
            out.push(noisy.max(0.0));
        }
    }
    out
}

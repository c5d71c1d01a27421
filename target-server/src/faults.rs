//! The latency model and fault injection, changeable at runtime through `/admin/faults`.
//!
//! Each call's simulated service time is drawn here; stalls are periodic windows measured
//! from server start (every N s the server stops answering for M ms), which is what a
//! coordinated-omission test needs: requests that arrive inside the window wait until its end.
use std::collections::BTreeMap;
use std::sync::RwLock;
use std::time::{Duration, Instant};

use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::config::{MethodLatency, ServerConfig, METHODS};

/// One method's latency in the admin API's units.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
pub struct LatencyMs {
    pub base_ms: f64,
    #[serde(default)]
    pub spread_ms: f64,
}

/// What `GET /admin/faults` shows and `PUT /admin/faults` changes. In a PUT every field is
/// optional; given maps are merged key by key, and the key `*` means every method.
#[derive(Debug, Clone, Serialize, Deserialize, Default, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct FaultSettings {
    #[serde(default)]
    pub latency_ms: BTreeMap<String, LatencyMs>,
    #[serde(default)]
    pub error_rates: BTreeMap<String, f64>,
    #[serde(default)]
    pub stall_every_s: Option<u64>,
    #[serde(default)]
    pub stall_for_ms: Option<u64>,
}

struct Settings {
    latency: BTreeMap<String, MethodLatency>,
    error_rates: BTreeMap<String, f64>,
    stall_every: Duration,
    stall_for: Duration,
}

pub struct Faults {
    settings: RwLock<Settings>,
    started: Instant,
}

/// What the model decided for one call.
pub struct Decision {
    pub delay: Duration,
    pub inject_error: bool,
}

impl Faults {
    pub fn new(config: &ServerConfig) -> Faults {
        let mut error_rates = BTreeMap::new();
        for e in &config.error_rates {
            error_rates.insert(e.method.clone(), e.rate);
        }
        Faults {
            settings: RwLock::new(Settings {
                latency: config.initial_latencies(),
                error_rates,
                stall_every: Duration::from_secs(config.stall_every_s),
                stall_for: Duration::from_millis(config.stall_for_ms),
            }),
            started: Instant::now(),
        }
    }

    /// Draws the delay (stall remainder + service time) and whether to inject an error.
    pub fn decide(&self, method: &str) -> Decision {
        let s = self.settings.read().expect("faults poisoned");
        let latency = s
            .latency
            .get(method)
            .copied()
            .unwrap_or(MethodLatency::ZERO);
        let rate = s
            .error_rates
            .get(method)
            .or_else(|| s.error_rates.get("*"))
            .copied()
            .unwrap_or(0.0);
        let stall = if s.stall_every.is_zero() || s.stall_for.is_zero() {
            Duration::ZERO
        } else {
            let every = s.stall_every.as_nanos();
            let phase = Duration::from_nanos((self.started.elapsed().as_nanos() % every) as u64);
            s.stall_for.saturating_sub(phase)
        };
        drop(s);
        if latency.is_zero() && rate == 0.0 && stall.is_zero() {
            return Decision {
                delay: Duration::ZERO,
                inject_error: false,
            };
        }
        let mut rng = rand::rng();
        Decision {
            delay: stall + latency.draw(&mut rng),
            inject_error: rate > 0.0 && rng.random::<f64>() < rate,
        }
    }

    /// The current latency of a method or generation phase ([`crate::config::GENERATION_PHASES`]).
    pub fn latency(&self, name: &str) -> MethodLatency {
        let s = self.settings.read().expect("faults poisoned");
        s.latency.get(name).copied().unwrap_or(MethodLatency::ZERO)
    }

    /// Applies a partial update and returns the resulting settings.
    pub fn update(&self, change: FaultSettings) -> Result<FaultSettings, String> {
        for (method, rate) in &change.error_rates {
            if !(0.0..=1.0).contains(rate) {
                return Err(format!(
                    "error_rates.{method}: {rate} is not between 0 and 1"
                ));
            }
        }
        for (method, l) in &change.latency_ms {
            if l.base_ms < 0.0
                || l.spread_ms < 0.0
                || !l.base_ms.is_finite()
                || !l.spread_ms.is_finite()
            {
                return Err(format!(
                    "latency_ms.{method}: base_ms and spread_ms must be >= 0"
                ));
            }
        }
        let mut s = self.settings.write().expect("faults poisoned");
        for (method, l) in change.latency_ms {
            let latency = MethodLatency {
                base: Duration::from_secs_f64(l.base_ms / 1000.0),
                spread: Duration::from_secs_f64(l.spread_ms / 1000.0),
            };
            if method == "*" {
                for m in METHODS {
                    s.latency.insert(m.to_string(), latency);
                }
            } else {
                s.latency.insert(method, latency);
            }
        }
        s.error_rates.extend(change.error_rates);
        if let Some(every) = change.stall_every_s {
            s.stall_every = Duration::from_secs(every);
        }
        if let Some(ms) = change.stall_for_ms {
            s.stall_for = Duration::from_millis(ms);
        }
        drop(s);
        Ok(self.current())
    }

    pub fn current(&self) -> FaultSettings {
        let s = self.settings.read().expect("faults poisoned");
        FaultSettings {
            latency_ms: s
                .latency
                .iter()
                .map(|(m, l)| {
                    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
                    (
                        m.clone(),
                        LatencyMs {
                            base_ms: ms(l.base),
                            spread_ms: ms(l.spread),
                        },
                    )
                })
                .collect(),
            error_rates: s.error_rates.clone(),
            stall_every_s: Some(s.stall_every.as_secs()),
            stall_for_ms: Some(s.stall_for.as_millis() as u64),
        }
    }
}

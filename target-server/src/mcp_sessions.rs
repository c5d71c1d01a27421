//! The bounded MCP session table: one entry per `Mcp-Session-Id` issued by `initialize`.
//!
//! Bounded twice, so that a load test that never sends `DELETE` cannot grow the server without
//! limit: at most `--mcp-max-sessions` entries (an `initialize` past it is refused, HTTP 503),
//! and an entry unused for `--mcp-session-idle-s` expires. Expiry is enforced lazily (a lookup
//! of an expired id removes it and answers "not found"), by a sweep when the table is full
//! (so expired sessions make room before anyone is refused), before every `/metrics` scrape
//! (so the open-session gauge never counts expired sessions) and by a periodic sweep
//! ([`run_sweeper`]), so memory is returned even when nobody asks.
use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::sync::watch;

use crate::config::{McpAnswers, ServerConfig};
use crate::metrics::{Metrics, SessionEnd};

/// What a session remembers.
#[derive(Debug, Clone, Copy)]
pub struct Session {
    /// The protocol version `initialize` negotiated.
    pub protocol_version: &'static str,
    /// Whether `notifications/initialized` arrived. Requests before it are served anyway, as
    /// the python SDK serves them.
    pub initialized: bool,
    last_used: Instant,
}

/// The table is full: `initialize` is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Full {
    pub max: usize,
}

/// The session table, shared by every `/mcp` request.
pub struct Sessions {
    table: Mutex<HashMap<String, Session>>,
    max: usize,
    idle: Duration,
    metrics: Arc<Metrics>,
}

impl Sessions {
    pub fn new(max: usize, idle: Duration, metrics: Arc<Metrics>) -> Sessions {
        Sessions {
            table: Mutex::new(HashMap::new()),
            max,
            idle,
            metrics,
        }
    }

    pub fn idle(&self) -> Duration {
        self.idle
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, Session>> {
        self.table.lock().expect("mcp sessions poisoned")
    }

    fn expired(&self, session: &Session, now: Instant) -> bool {
        now.saturating_duration_since(session.last_used) >= self.idle
    }

    /// Publishes the table's size to the gauge; called with the lock held, so the gauge
    /// follows the table's changes in order.
    fn publish(&self, table: &HashMap<String, Session>) {
        self.metrics
            .mcp_sessions_open
            .store(table.len(), Ordering::Relaxed);
    }

    fn sweep_locked(&self, table: &mut HashMap<String, Session>, now: Instant) -> usize {
        let before = table.len();
        table.retain(|_, s| !self.expired(s, now));
        let removed = before - table.len();
        if removed > 0 {
            self.metrics
                .add_mcp_sessions_closed(SessionEnd::Expired, removed as u64);
        }
        removed
    }

    /// Opens a session with a fresh random id (a UUID: visible ASCII, as the spec asks).
    pub fn open(&self, protocol_version: &'static str) -> Result<String, Full> {
        let now = Instant::now();
        let mut table = self.lock();
        if table.len() >= self.max {
            self.sweep_locked(&mut table, now);
            if table.len() >= self.max {
                return Err(Full { max: self.max });
            }
        }
        let id = uuid::Uuid::new_v4().to_string();
        table.insert(
            id.clone(),
            Session {
                protocol_version,
                initialized: false,
                last_used: now,
            },
        );
        self.metrics.add_mcp_session_opened();
        self.publish(&table);
        Ok(id)
    }

    /// The live session `id`, marked used now; `None` if it is unknown, deleted or expired
    /// (an expired one is removed here).
    pub fn touch(&self, id: &str) -> Option<Session> {
        let now = Instant::now();
        let mut table = self.lock();
        let session = table.get_mut(id)?;
        if now.saturating_duration_since(session.last_used) >= self.idle {
            table.remove(id);
            self.metrics.add_mcp_sessions_closed(SessionEnd::Expired, 1);
            self.publish(&table);
            return None;
        }
        session.last_used = now;
        Some(*session)
    }

    /// A repeated `initialize` in a live session: the session keeps its id, takes the newly
    /// negotiated version and waits for `notifications/initialized` again.
    pub fn reinitialize(&self, id: &str, protocol_version: &'static str) {
        if let Some(session) = self.lock().get_mut(id) {
            session.protocol_version = protocol_version;
            session.initialized = false;
        }
    }

    /// `notifications/initialized` arrived for `id`.
    pub fn mark_initialized(&self, id: &str) {
        if let Some(session) = self.lock().get_mut(id) {
            session.initialized = true;
        }
    }

    /// Ends session `id` (`DELETE /mcp`); false if it was unknown or had already expired.
    pub fn close(&self, id: &str) -> bool {
        let now = Instant::now();
        let mut table = self.lock();
        let Some(session) = table.remove(id) else {
            return false;
        };
        let live = !self.expired(&session, now);
        let why = if live {
            SessionEnd::Deleted
        } else {
            SessionEnd::Expired
        };
        self.metrics.add_mcp_sessions_closed(why, 1);
        self.publish(&table);
        live
    }

    /// Removes every expired session; returns how many.
    pub fn sweep(&self) -> usize {
        let mut table = self.lock();
        let removed = self.sweep_locked(&mut table, Instant::now());
        if removed > 0 {
            self.publish(&table);
        }
        removed
    }

    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Sweeps `sessions` until `stop` turns true, every quarter of the idle time (between 10 ms
/// and 1 s), so an expired session is gone within about 1.25 idle times at most.
pub async fn run_sweeper(sessions: Arc<Sessions>, mut stop: watch::Receiver<bool>) {
    let every = (sessions.idle() / 4).clamp(Duration::from_millis(10), Duration::from_secs(1));
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {
                sessions.sweep();
            }
            _ = stop.wait_for(|s| *s) => return,
        }
    }
}

/// The MCP API's settings and sessions, shared by every request.
pub struct Mcp {
    pub answers: McpAnswers,
    /// `None` in stateless mode (`--mcp-stateless`).
    pub sessions: Option<Arc<Sessions>>,
}

impl Mcp {
    pub fn new(config: &ServerConfig, metrics: Arc<Metrics>) -> Mcp {
        let sessions = (!config.mcp_stateless).then(|| {
            Arc::new(Sessions::new(
                config.mcp_max_sessions,
                config.mcp_session_idle(),
                metrics,
            ))
        });
        Mcp {
            answers: config.mcp_answers,
            sessions,
        }
    }

    /// Removes expired sessions (before a scrape, so the gauge counts only live ones).
    pub fn sweep(&self) {
        if let Some(sessions) = &self.sessions {
            sessions.sweep();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(max: usize, idle_ms: u64) -> (Sessions, Arc<Metrics>) {
        let metrics = Arc::new(Metrics::default());
        let sessions = Sessions::new(max, Duration::from_millis(idle_ms), metrics.clone());
        (sessions, metrics)
    }

    #[test]
    fn a_full_table_refuses_until_a_session_closes() {
        let (sessions, metrics) = table(2, 60_000);
        let a = sessions.open("2025-06-18").unwrap();
        sessions.open("2025-03-26").unwrap();
        assert_eq!(sessions.open("2025-06-18"), Err(Full { max: 2 }));
        assert!(sessions.close(&a));
        assert!(!sessions.close(&a), "a second delete finds nothing");
        assert!(sessions.open("2025-06-18").is_ok());
        assert_eq!(metrics.mcp_sessions_open.load(Ordering::Relaxed), 2);
    }

    #[test]
    fn an_idle_session_expires_and_makes_room() {
        let (sessions, metrics) = table(1, 20);
        let a = sessions.open("2025-06-18").unwrap();
        assert_eq!(sessions.touch(&a).unwrap().protocol_version, "2025-06-18");
        std::thread::sleep(Duration::from_millis(30));
        let b = sessions
            .open("2025-06-18")
            .expect("the expired session made room");
        assert!(sessions.touch(&a).is_none());
        assert!(sessions.touch(&b).is_some());
        std::thread::sleep(Duration::from_millis(30));
        assert_eq!(sessions.sweep(), 1);
        assert!(sessions.is_empty());
        assert_eq!(metrics.mcp_sessions_open.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn initialized_is_remembered() {
        let (sessions, _) = table(4, 60_000);
        let a = sessions.open("2025-03-26").unwrap();
        assert!(!sessions.touch(&a).unwrap().initialized);
        sessions.mark_initialized(&a);
        assert!(sessions.touch(&a).unwrap().initialized);
        sessions.reinitialize(&a, "2025-06-18");
        let s = sessions.touch(&a).unwrap();
        assert!(!s.initialized && s.protocol_version == "2025-06-18");
    }
}

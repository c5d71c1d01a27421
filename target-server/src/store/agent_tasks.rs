//! Agent tasks of the A2A API (`/a2a`): one row per task, written when the task starts and
//! once more when it ends. Chunks are not written as they are sent: at hundreds of streams a
//! second that would be thousands of writes a second for text nobody reads before the end.
use rusqlite::{params, Connection, OptionalExtension};

use crate::error::ServerError;

/// Where an agent task is, as A2A names its states.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AgentTaskState {
    /// Generating its answer.
    Working,
    Completed,
    Canceled,
    /// Was generating when a previous server process stopped; it can never finish.
    Failed,
}

impl AgentTaskState {
    pub fn as_str(self) -> &'static str {
        match self {
            AgentTaskState::Working => "working",
            AgentTaskState::Completed => "completed",
            AgentTaskState::Canceled => "canceled",
            AgentTaskState::Failed => "failed",
        }
    }

    fn parse(text: &str) -> Result<Self, ServerError> {
        Ok(match text {
            "working" => AgentTaskState::Working,
            "completed" => AgentTaskState::Completed,
            "canceled" => AgentTaskState::Canceled,
            "failed" => AgentTaskState::Failed,
            other => {
                return Err(ServerError::Store(format!(
                    "agent task in unknown state `{other}`"
                )))
            }
        })
    }
}

/// A task timestamp for now: RFC 3339 in UTC with milliseconds, as the A2A spec writes them.
pub fn agent_task_timestamp() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// What a task starts with.
pub struct NewAgentTask<'a> {
    pub task_id: &'a str,
    pub context_id: &'a str,
    pub artifact_id: &'a str,
    pub created_at: &'a str,
}

/// One task as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct AgentTaskRow {
    pub task_id: String,
    pub context_id: String,
    pub state: AgentTaskState,
    pub artifact_id: String,
    /// The answer's text: empty while working, the chunks generated before it ended after.
    pub answer: String,
    /// When the task entered its current state (RFC 3339).
    pub updated_at: String,
}

pub fn insert_agent_task(conn: &Connection, task: &NewAgentTask<'_>) -> Result<(), ServerError> {
    conn.prepare_cached(
        "INSERT INTO agent_tasks (task_id, context_id, state, artifact_id, answer, created_at, updated_at)
         VALUES (?1, ?2, 'working', ?3, '', ?4, ?4)",
    )?
    .execute(params![
        task.task_id,
        task.context_id,
        task.artifact_id,
        task.created_at
    ])?;
    Ok(())
}

/// Moves a working task to its final `state` with its `answer`; false when the task is not
/// working (unknown, evicted, or already ended), so a task ends once.
pub fn finish_agent_task(
    conn: &Connection,
    task_id: &str,
    state: AgentTaskState,
    answer: &str,
    at: &str,
) -> Result<bool, ServerError> {
    let changed = conn
        .prepare_cached(
            "UPDATE agent_tasks SET state = ?2, answer = ?3, updated_at = ?4
             WHERE task_id = ?1 AND state = 'working'",
        )?
        .execute(params![task_id, state.as_str(), answer, at])?;
    Ok(changed == 1)
}

pub fn get_agent_task(
    conn: &Connection,
    task_id: &str,
) -> Result<Option<AgentTaskRow>, ServerError> {
    let row = conn
        .prepare_cached(
            "SELECT task_id, context_id, state, artifact_id, answer, updated_at
             FROM agent_tasks WHERE task_id = ?1",
        )?
        .query_row([task_id], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, String>(4)?,
                r.get::<_, String>(5)?,
            ))
        })
        .optional()?;
    row.map(
        |(task_id, context_id, state, artifact_id, answer, updated_at)| {
            Ok(AgentTaskRow {
                task_id,
                context_id,
                state: AgentTaskState::parse(&state)?,
                artifact_id,
                answer,
                updated_at,
            })
        },
    )
    .transpose()
}

/// Marks every task still `working` as `failed`: run when the store opens, when no generation
/// of this process can own them, so a task interrupted by a restart does not stay working
/// forever (and stays evictable).
pub fn fail_interrupted_agent_tasks(conn: &Connection, at: &str) -> Result<usize, ServerError> {
    Ok(conn.execute(
        "UPDATE agent_tasks SET state = 'failed', updated_at = ?1 WHERE state = 'working'",
        [at],
    )?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> Connection {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(super::super::SCHEMA).unwrap();
        conn
    }

    fn start(conn: &Connection, id: &str) {
        insert_agent_task(
            conn,
            &NewAgentTask {
                task_id: id,
                context_id: "ctx",
                artifact_id: "art",
                created_at: "2026-01-01T00:00:00Z",
            },
        )
        .unwrap();
    }

    #[test]
    fn a_task_ends_once() {
        let conn = store();
        start(&conn, "t");
        assert!(finish_agent_task(&conn, "t", AgentTaskState::Canceled, "a", "later").unwrap());
        assert!(!finish_agent_task(&conn, "t", AgentTaskState::Completed, "ab", "later").unwrap());
        let row = get_agent_task(&conn, "t").unwrap().unwrap();
        assert_eq!(row.state, AgentTaskState::Canceled);
        assert_eq!(row.answer, "a");
        assert!(get_agent_task(&conn, "nope").unwrap().is_none());
    }

    #[test]
    fn working_tasks_of_a_previous_process_fail_at_open() {
        let conn = store();
        start(&conn, "old");
        start(&conn, "done");
        finish_agent_task(&conn, "done", AgentTaskState::Completed, "x", "t").unwrap();
        assert_eq!(fail_interrupted_agent_tasks(&conn, "now").unwrap(), 1);
        let old = get_agent_task(&conn, "old").unwrap().unwrap();
        assert_eq!(
            (old.state, old.updated_at.as_str()),
            (AgentTaskState::Failed, "now")
        );
        let done = get_agent_task(&conn, "done").unwrap().unwrap();
        assert_eq!(done.state, AgentTaskState::Completed);
    }
}

//! Every knob of the server, as one struct that is both the library's configuration and the
//! binary's command line (`target-server --help` is generated from these doc comments).
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::a2a_dialect::Dialect;
use crate::DEFAULT_TOKEN;

/// Simulated service time of one method: `base` plus a uniform random `spread`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MethodLatency {
    pub base: Duration,
    pub spread: Duration,
}

impl MethodLatency {
    pub const ZERO: MethodLatency = MethodLatency {
        base: Duration::ZERO,
        spread: Duration::ZERO,
    };

    pub const fn ms(base: u64, spread: u64) -> Self {
        MethodLatency {
            base: Duration::from_millis(base),
            spread: Duration::from_millis(spread),
        }
    }

    pub fn is_zero(&self) -> bool {
        self.base.is_zero() && self.spread.is_zero()
    }

    /// One draw: `base` plus a uniform share of `spread`.
    pub fn draw(&self, rng: &mut impl rand::Rng) -> Duration {
        if self.spread.is_zero() {
            self.base
        } else {
            self.base + self.spread.mul_f64(rng.random::<f64>())
        }
    }
}

pub use crate::chunk_count::ChunkCount;

/// `METHOD=BASE_MS[+SPREAD_MS]`, e.g. `training.get_status=2+3` or `*=250` for every method.
#[derive(Debug, Clone, PartialEq)]
pub struct LatencyOverride {
    pub method: String,
    pub latency: MethodLatency,
}

impl std::str::FromStr for LatencyOverride {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let usage = || {
            format!("`{text}` is not METHOD=BASE_MS[+SPREAD_MS] (e.g. `training.get_status=2+3`, `*=250`)")
        };
        let (method, value) = text.split_once('=').ok_or_else(usage)?;
        let (base, spread) = value.split_once('+').unwrap_or((value, "0"));
        let base: f64 = base.trim().parse().map_err(|_| usage())?;
        let spread: f64 = spread.trim().parse().map_err(|_| usage())?;
        if method.trim().is_empty() || base < 0.0 || spread < 0.0 {
            return Err(usage());
        }
        let method = method.trim();
        let known =
            method == "*" || METHODS.contains(&method) || GENERATION_PHASES.contains(&method);
        if !known {
            return Err(format!(
                "`{text}`: unknown method `{method}`; use `*`, one of {}, or a generation phase ({})",
                METHODS.join(", "),
                GENERATION_PHASES.join(", ")
            ));
        }
        Ok(LatencyOverride {
            method: method.to_string(),
            latency: MethodLatency {
                base: Duration::from_secs_f64(base / 1000.0),
                spread: Duration::from_secs_f64(spread / 1000.0),
            },
        })
    }
}

/// `METHOD=RATE` with RATE in 0..=1, e.g. `training.start_grpo=0.05` or `*=0.01`.
#[derive(Debug, Clone, PartialEq)]
pub struct ErrorRate {
    pub method: String,
    pub rate: f64,
}

impl std::str::FromStr for ErrorRate {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let usage =
            || format!("`{text}` is not METHOD=RATE with RATE between 0 and 1 (e.g. `*=0.01`)");
        let (method, rate) = text.split_once('=').ok_or_else(usage)?;
        let rate: f64 = rate.trim().parse().map_err(|_| usage())?;
        if method.trim().is_empty() || !(0.0..=1.0).contains(&rate) {
            return Err(usage());
        }
        Ok(ErrorRate {
            method: method.trim().to_string(),
            rate,
        })
    }
}

/// The reference agent server's configuration (also its command line).
#[derive(Debug, Clone, clap::Args)]
pub struct ServerConfig {
    /// Address to listen on. Loopback by default; use 0.0.0.0:PORT to accept remote clients.
    #[arg(long, default_value = "127.0.0.1:8080", env = "TARGET_SERVER_BIND")]
    pub bind: SocketAddr,

    /// Bearer token required by the training API and the admin endpoint.
    #[arg(long, default_value = DEFAULT_TOKEN, env = "TARGET_SERVER_TOKEN", hide_env_values = true)]
    pub token: String,

    /// SQLite database file (WAL mode), or `:memory:` for a store that dies with the process.
    #[arg(long, default_value = "target-server.db", env = "TARGET_SERVER_DB")]
    pub db: PathBuf,

    /// Database connections in the pool (a `:memory:` store always uses one).
    #[arg(long, default_value_t = 8)]
    pub db_pool: usize,

    /// Requests served at once; each holds a slot for its simulated service time and its
    /// database work. Together with the latency model this sets the capacity knee.
    #[arg(long, default_value_t = 256)]
    pub capacity: usize,

    /// Requests allowed to wait for a slot; past this the server sheds with 429 at once.
    #[arg(long, default_value_t = 1024)]
    pub queue_limit: usize,

    /// Longest wait for a slot before shedding with 429 + Retry-After, in milliseconds.
    #[arg(long, default_value_t = 1000)]
    pub queue_timeout_ms: u64,

    /// Largest accepted request body in bytes; bigger bodies get 413.
    #[arg(long, default_value_t = 32 * 1024 * 1024)]
    pub max_body_bytes: usize,

    /// Training jobs that run at once; the rest wait in the queue (status `queued`).
    #[arg(long, default_value_t = 150)]
    pub max_running_jobs: usize,

    /// How often the simulated trainers advance every running job by one iteration, in ms.
    #[arg(long, default_value_t = 250)]
    pub trainer_tick_ms: u64,

    /// Retention: trajectory rows kept in total, oldest evicted first (0 = no cap). The
    /// default keeps the table near 125 MB; see docs/target-server.md.
    #[arg(long, default_value_t = 250_000)]
    pub max_trajectories: u64,

    /// Retention: newest trajectories kept per job; older ones are evicted as the job writes
    /// new ones (0 = no cap).
    #[arg(long, default_value_t = 1_000)]
    pub max_trajectories_per_job: u64,

    /// Retention: orchestration events kept, oldest evicted first (0 = no cap). An accepted
    /// event is kept until at least this many newer events were accepted after it.
    #[arg(long, default_value_t = 500_000)]
    pub max_events: u64,

    /// Retention: workflows kept, oldest evicted first with their executions (0 = no cap).
    /// A workflow with an execution still running is never evicted. The default keeps an
    /// hour of the heavy scenario within a few hundred MB; see docs/target-server.md.
    #[arg(long, default_value_t = 20_000)]
    pub max_workflows: u64,

    /// Retention: agent tasks (`/a2a`) kept, oldest finished first (0 = no cap). A task still
    /// generating is never evicted.
    #[arg(long, default_value_t = 100_000)]
    pub max_agent_tasks: u64,
    /// Retention: finished jobs (completed, failed or cancelled) kept, the longest finished
    /// evicted first with their trajectories (0 = no cap). Queued and running jobs are never
    /// evicted; an evicted job answers -32001 (not found). A finished job costs about 4 KB,
    /// so the default keeps the table near 40 MB; see docs/target-server.md.
    #[arg(long, default_value_t = 10_000)]
    pub max_finished_jobs: u64,

    /// Retention: finished workflow executions kept, oldest evicted first (0 = no cap). A
    /// running execution is never evicted; an evicted one answers 404.
    #[arg(long, default_value_t = 100_000)]
    pub max_executions: u64,

    /// Retention: rows deleted per transaction when evicting. Small batches keep each delete
    /// short, so requests are not held behind it.
    #[arg(long, default_value_t = 1_000)]
    pub eviction_batch: u64,

    /// Retention: how often the event, workflow, execution and finished-job caps are
    /// enforced, in ms.
    #[arg(long, default_value_t = 1_000)]
    pub retention_interval_ms: u64,

    /// How long each task of a workflow execution runs, in ms. Executions finish when their
    /// last task does; tasks wait for their `depends_on`, and non-`parallel` ones run one at a time.
    #[arg(long, default_value_t = 100)]
    pub workflow_task_ms: u64,

    /// Turn the latency model off (every method answers as fast as it can).
    #[arg(long)]
    pub no_latency: bool,

    /// Override a method's simulated latency: METHOD=BASE_MS[+SPREAD_MS]; `*` means every method.
    /// Repeatable. Applied on top of the defaults (see docs/target-server.md). The MCP tools are
    /// methods too: `mcp.search` (default 15+10), `mcp.fetch_document` (5+5), `mcp.summarize`
    /// (40+30). The phases of streamed answers are not covered by `*`: `agent.ttfc` (time to
    /// the first chunk of an agent answer, default 300+200), `agent.gap` (time between chunks,
    /// default 30+20), `mcp.long_report.step` (one step of the MCP tool `long_report`,
    /// default 50+20), `llm.ttft` (an LLM answer's time to first token before prefill and
    /// queueing, default 20) and `llm.tpot` (time per output token, default 10).
    #[arg(long = "latency", value_name = "METHOD=MS[+MS]")]
    pub latency_overrides: Vec<LatencyOverride>,

    /// Chunks in one agent answer (`/a2a`): COUNT[+SPREAD], drawn per request, e.g. `8+0`.
    #[arg(long, default_value = "20+10", value_name = "COUNT[+SPREAD]")]
    pub agent_chunks: ChunkCount,

    /// A2A protocol versions `/a2a` speaks and its agent card lists, comma-separated: `1.0`
    /// (`SendMessage`, ...) and `0.3` (`message/send`, ...). A method of a version not listed
    /// answers -32601 (method not found).
    #[arg(long, value_enum, value_delimiter = ',', default_value = "1.0,0.3")]
    pub a2a_versions: Vec<Dialect>,

    /// Fault injection: close every new A2A stream's connection after it sent N artifact
    /// chunks, without the final status; the task goes on generating, so a client can
    /// re-subscribe (`SubscribeToTask`, `tasks/resubscribe`) for the rest. Off by default.
    #[arg(long, value_name = "N")]
    pub a2a_cut_after: Option<u32>,

    /// Fault injection: answer this share of a method's calls with an error; METHOD=RATE, `*` for all.
    #[arg(long = "error-rate", value_name = "METHOD=RATE")]
    pub error_rates: Vec<ErrorRate>,

    /// Fault injection: stall every request for --stall-for-ms once every this many seconds (0 = off).
    #[arg(long, default_value_t = 0)]
    pub stall_every_s: u64,

    /// Fault injection: length of each periodic stall in milliseconds.
    #[arg(long, default_value_t = 0)]
    pub stall_for_ms: u64,

    /// MCP (`/mcp`): how a request is answered when its `Accept` allows both. `sse` (as the
    /// python SDK's default) sends `text/event-stream` with progress notifications before the
    /// response; `json` always sends one `application/json` response and no progress.
    #[arg(long, value_enum, default_value_t = McpAnswers::Sse)]
    pub mcp_answers: McpAnswers,

    /// MCP: issue and require no `Mcp-Session-Id`; every request stands alone (as the python
    /// SDK's `stateless_http=True`).
    #[arg(long)]
    pub mcp_stateless: bool,

    /// MCP: sessions open at once; an `initialize` past this gets HTTP 503.
    #[arg(long, default_value_t = 10_000)]
    pub mcp_max_sessions: usize,

    /// MCP: a session unused for this many seconds expires (its id then gets 404).
    #[arg(long, default_value_t = 300)]
    pub mcp_session_idle_s: u64,

    /// MCP: the idle expiry in milliseconds; overrides --mcp-session-idle-s (for tests).
    #[arg(long)]
    pub mcp_session_idle_ms: Option<u64>,

    /// The LLM endpoints' flags (`--llm-*`, see docs/llm-server.md).
    #[command(flatten)]
    pub llm: crate::llm_config::LlmConfig,
}

/// How `/mcp` frames a request's answer ([`ServerConfig::mcp_answers`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum McpAnswers {
    /// `text/event-stream` when the client accepts it, else `application/json`.
    Sse,
    /// Always `application/json`.
    Json,
}

/// The methods the server knows, under the names Skein gives its requests.
pub const METHODS: [&str; 23] = [
    "training.start_grpo",
    "training.get_status",
    "training.export_trajectories",
    "training.cancel",
    "training.evaluate",
    "create_workflow",
    "execute_workflow",
    "get_workflow_status",
    "get_execution_status",
    "publish_event_batch",
    "message/send",
    "message/stream",
    "tasks/get",
    "tasks/cancel",
    "tasks/resubscribe",
    "SendMessage",
    "SendStreamingMessage",
    "GetTask",
    "CancelTask",
    "SubscribeToTask",
    MCP_SEARCH,
    MCP_FETCH_DOCUMENT,
    MCP_SUMMARIZE,
];

/// Latency-table name of the MCP tool `search`'s service time.
pub const MCP_SEARCH: &str = "mcp.search";
/// Latency-table name of the MCP tool `fetch_document`'s service time.
pub const MCP_FETCH_DOCUMENT: &str = "mcp.fetch_document";
/// Latency-table name of the MCP tool `summarize`'s service time.
pub const MCP_SUMMARIZE: &str = "mcp.summarize";

/// Latency-table name of an agent answer's time to its first chunk.
pub const AGENT_TTFC: &str = "agent.ttfc";
/// Latency-table name of the time between two chunks of an agent answer.
pub const AGENT_GAP: &str = "agent.gap";
/// Latency-table name of one step of the MCP tool `long_report` (one progress notification).
pub const MCP_LONG_REPORT_STEP: &str = "mcp.long_report.step";
/// Latency-table name of an LLM answer's time to first token, before prefill and queueing.
pub const LLM_TTFT: &str = "llm.ttft";
/// Latency-table name of an LLM answer's time per output token.
pub const LLM_TPOT: &str = "llm.tpot";
/// The phases of streamed answers: the agent's generation, an MCP `long_report`'s steps and
/// an LLM answer's tokens ([`crate::llm`]).
/// They share the latency table (and so `--latency` and `/admin/faults`) with the methods,
/// but `*` does not reach them: a blanket service time for every method should not also turn
/// every 30 ms chunk gap into 250 ms.
pub const GENERATION_PHASES: [&str; 5] = [
    AGENT_TTFC,
    AGENT_GAP,
    MCP_LONG_REPORT_STEP,
    LLM_TTFT,
    LLM_TPOT,
];

/// Default length of an agent answer, in chunks.
pub const DEFAULT_AGENT_CHUNKS: ChunkCount = ChunkCount {
    base: 20,
    spread: 10,
};

/// Default service times: modest, in the range of a real platform's cheap calls, so that a
/// light scenario meets p95 < 200 ms while a heavy one meets the capacity knee.
pub fn default_latency(method: &str) -> MethodLatency {
    match method {
        "training.get_status" | "get_workflow_status" | "get_execution_status" => {
            MethodLatency::ms(2, 4)
        }
        "training.start_grpo" => MethodLatency::ms(15, 20),
        "training.export_trajectories" => MethodLatency::ms(8, 12),
        "training.cancel" => MethodLatency::ms(5, 5),
        "training.evaluate" => MethodLatency::ms(20, 20),
        "create_workflow" | "execute_workflow" => MethodLatency::ms(8, 10),
        "publish_event_batch" => MethodLatency::ms(5, 10),
        "tasks/get" | "GetTask" => MethodLatency::ms(2, 4),
        "tasks/cancel" | "CancelTask" => MethodLatency::ms(5, 5),
        MCP_SEARCH => MethodLatency::ms(15, 10),
        MCP_FETCH_DOCUMENT => MethodLatency::ms(5, 5),
        MCP_SUMMARIZE => MethodLatency::ms(40, 30),
        MCP_LONG_REPORT_STEP => MethodLatency::ms(50, 20),
        // Sending and streaming take the generation model's time instead; subscribing none.
        AGENT_TTFC => MethodLatency::ms(300, 200),
        AGENT_GAP => MethodLatency::ms(30, 20),
        LLM_TTFT => MethodLatency::ms(20, 0),
        LLM_TPOT => MethodLatency::ms(10, 0),
        _ => MethodLatency::ZERO,
    }
}

impl ServerConfig {
    /// An in-memory server on an ephemeral loopback port with the default latency model and
    /// the default retention caps: what tests, `skein demo` and `skein run` without a host embed.
    pub fn in_memory_on_loopback() -> Self {
        ServerConfig {
            bind: "127.0.0.1:0".parse().expect("literal address"),
            db: PathBuf::from(":memory:"),
            ..ServerConfig::default()
        }
    }

    /// How long an MCP session may stay unused: `--mcp-session-idle-ms` if given, else
    /// `--mcp-session-idle-s`.
    pub fn mcp_session_idle(&self) -> Duration {
        match self.mcp_session_idle_ms {
            Some(ms) => Duration::from_millis(ms),
            None => Duration::from_secs(self.mcp_session_idle_s),
        }
    }

    pub fn queue_timeout(&self) -> Duration {
        Duration::from_millis(self.queue_timeout_ms)
    }

    /// The latency table the server starts with: defaults, then `--no-latency`, then overrides.
    pub fn initial_latencies(&self) -> BTreeMap<String, MethodLatency> {
        let mut table: BTreeMap<String, MethodLatency> = METHODS
            .iter()
            .chain(GENERATION_PHASES.iter())
            .map(|m| {
                let latency = if self.no_latency {
                    MethodLatency::ZERO
                } else {
                    default_latency(m)
                };
                (m.to_string(), latency)
            })
            .collect();
        for o in &self.latency_overrides {
            if o.method == "*" {
                for m in METHODS {
                    table.insert(m.to_string(), o.latency);
                }
            } else {
                table.insert(o.method.clone(), o.latency);
            }
        }
        table
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            bind: "127.0.0.1:8080".parse().expect("literal address"),
            token: DEFAULT_TOKEN.to_string(),
            db: PathBuf::from("target-server.db"),
            db_pool: 8,
            capacity: 256,
            queue_limit: 1024,
            queue_timeout_ms: 1000,
            max_body_bytes: 32 * 1024 * 1024,
            max_running_jobs: 150,
            trainer_tick_ms: 250,
            workflow_task_ms: 100,
            max_trajectories: 250_000,
            max_trajectories_per_job: 1_000,
            max_events: 500_000,
            max_workflows: 20_000,
            max_agent_tasks: 100_000,
            max_finished_jobs: 10_000,
            max_executions: 100_000,
            eviction_batch: 1_000,
            retention_interval_ms: 1_000,
            no_latency: false,
            latency_overrides: Vec::new(),
            agent_chunks: DEFAULT_AGENT_CHUNKS,
            a2a_versions: vec![Dialect::V1, Dialect::V03],
            a2a_cut_after: None,
            error_rates: Vec::new(),
            stall_every_s: 0,
            stall_for_ms: 0,
            mcp_answers: McpAnswers::Sse,
            mcp_stateless: false,
            mcp_max_sessions: 10_000,
            mcp_session_idle_s: 300,
            mcp_session_idle_ms: None,
            llm: crate::llm_config::LlmConfig::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latency_override_parses_base_and_spread() {
        let o: LatencyOverride = "training.get_status=2+3.5".parse().unwrap();
        assert_eq!(o.method, "training.get_status");
        assert_eq!(o.latency.base, Duration::from_millis(2));
        assert_eq!(o.latency.spread, Duration::from_micros(3500));
        assert!("nope".parse::<LatencyOverride>().is_err());
        assert!("x=-1".parse::<LatencyOverride>().is_err());
        let typo = "agent.tffc=50".parse::<LatencyOverride>().unwrap_err();
        assert!(typo.contains("unknown method `agent.tffc`") && typo.contains("agent.ttfc"));
    }

    #[test]
    fn star_override_applies_to_every_method() {
        let config = ServerConfig {
            latency_overrides: vec!["*=250".parse().unwrap()],
            ..ServerConfig::default()
        };
        let table = config.initial_latencies();
        assert!(METHODS
            .iter()
            .all(|m| table[*m].base == Duration::from_millis(250)));
        assert_eq!(
            table[AGENT_GAP],
            default_latency(AGENT_GAP),
            "`*` leaves the generation phases alone"
        );
    }

    #[test]
    fn generation_phases_are_overridden_by_name() {
        let config = ServerConfig {
            no_latency: true,
            latency_overrides: vec!["agent.ttfc=50+0".parse().unwrap()],
            ..ServerConfig::default()
        };
        let table = config.initial_latencies();
        assert_eq!(table[AGENT_TTFC], MethodLatency::ms(50, 0));
        assert_eq!(table[AGENT_GAP], MethodLatency::ZERO, "--no-latency");
    }

    #[test]
    fn chunk_count_parses_count_and_spread() {
        assert_eq!(
            "8".parse::<ChunkCount>(),
            Ok(ChunkCount { base: 8, spread: 0 })
        );
        assert_eq!(
            "20+10".parse::<ChunkCount>(),
            Ok(ChunkCount {
                base: 20,
                spread: 10
            })
        );
        for bad in ["0", "x", "-1", "5+x", "100000+1"] {
            let err = bad.parse::<ChunkCount>().unwrap_err();
            assert!(err.contains("COUNT[+SPREAD]"), "{bad}: {err}");
        }
        let mut rng = rand::rng();
        let count = ChunkCount { base: 3, spread: 2 };
        let draws: Vec<u32> = (0..200).map(|_| count.draw(&mut rng)).collect();
        assert!(draws.iter().all(|n| (3..=5).contains(n)));
        assert!(draws.contains(&3) && draws.contains(&5), "{draws:?}");
    }

    #[test]
    fn the_command_line_and_the_embedded_server_share_the_retention_caps() {
        #[derive(clap::Parser)]
        struct Cli {
            #[command(flatten)]
            config: ServerConfig,
        }
        let cli = <Cli as clap::Parser>::parse_from(["target-server"]);
        let embedded = ServerConfig::in_memory_on_loopback();
        for config in [&cli.config, &embedded] {
            assert_eq!(config.max_trajectories, 250_000);
            assert_eq!(config.max_trajectories_per_job, 1_000);
            assert_eq!(config.max_events, 500_000);
            assert_eq!(config.max_workflows, 20_000);
            assert_eq!(config.max_agent_tasks, 100_000);
            assert_eq!(config.agent_chunks, DEFAULT_AGENT_CHUNKS);
            assert_eq!(config.max_finished_jobs, 10_000);
            assert_eq!(config.max_executions, 100_000);
            assert_eq!(config.eviction_batch, 1_000);
            assert_eq!(config.retention_interval_ms, 1_000);
            assert_eq!(config.mcp_answers, McpAnswers::Sse);
            assert!(!config.mcp_stateless);
            assert_eq!(config.mcp_max_sessions, 10_000);
            assert_eq!(config.mcp_session_idle(), Duration::from_secs(300));
        }
    }

    #[test]
    fn mcp_flags_parse_and_mcp_latencies_follow_the_table_rules() {
        #[derive(clap::Parser)]
        struct Cli {
            #[command(flatten)]
            config: ServerConfig,
        }
        let cli = <Cli as clap::Parser>::parse_from([
            "target-server",
            "--mcp-answers",
            "json",
            "--mcp-stateless",
            "--mcp-max-sessions",
            "3",
            "--mcp-session-idle-ms",
            "200",
            "--latency",
            "mcp.search=5+2",
        ]);
        let c = &cli.config;
        assert_eq!(c.mcp_answers, McpAnswers::Json);
        assert!(c.mcp_stateless);
        assert_eq!(c.mcp_max_sessions, 3);
        assert_eq!(c.mcp_session_idle(), Duration::from_millis(200));
        assert_eq!(c.initial_latencies()[MCP_SEARCH], MethodLatency::ms(5, 2));
        assert!("mcp.long_report.step=5".parse::<LatencyOverride>().is_ok());
        assert!("mcp.serch=5".parse::<LatencyOverride>().is_err());

        let star = ServerConfig {
            latency_overrides: vec!["*=250".parse().unwrap()],
            ..ServerConfig::default()
        };
        let table = star.initial_latencies();
        assert_eq!(
            table[MCP_SUMMARIZE],
            MethodLatency::ms(250, 0),
            "a tool is a method"
        );
        assert_eq!(
            table[MCP_LONG_REPORT_STEP],
            default_latency(MCP_LONG_REPORT_STEP),
            "`*` leaves the report's steps alone"
        );
        let none = ServerConfig {
            no_latency: true,
            ..ServerConfig::default()
        };
        let table = none.initial_latencies();
        for name in [
            MCP_SEARCH,
            MCP_FETCH_DOCUMENT,
            MCP_SUMMARIZE,
            MCP_LONG_REPORT_STEP,
        ] {
            assert!(!default_latency(name).is_zero(), "{name} has a default");
            assert_eq!(
                table[name],
                MethodLatency::ZERO,
                "--no-latency zeroes {name}"
            );
        }
    }

    #[test]
    fn error_rate_must_be_a_fraction() {
        assert!("*=1.5".parse::<ErrorRate>().is_err());
        assert_eq!("*=0.25".parse::<ErrorRate>().unwrap().rate, 0.25);
    }
}

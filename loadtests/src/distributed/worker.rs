//! The worker: registers with the manager, runs its share of the scenario, reports its
//! cumulative totals every second from a thread of its own, and follows the manager's
//! commands (start, rebalance, stop). If the manager goes silent it stops its users and
//! writes its own partial results locally.
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use chrono::{DateTime, Utc};
use tokio::sync::watch;

use super::protocol::*;
use super::share::{expand, summary};
use crate::exit::Failure;
use crate::recorder::Recorder;
use crate::runner::{result_with_tail, run_plan, RunPlan, StopHandle, StopReason};
use crate::scenario::{file, Overrides, Scenario, Stage};

/// The manager is considered gone after this long without a successful exchange.
pub const MANAGER_SILENCE: Duration = Duration::from_secs(5);
pub const REPORT_EVERY: Duration = Duration::from_secs(1);

pub struct WorkerConfig {
    /// The manager's base URL, e.g. http://manager:5557.
    pub manager: String,
    pub token: String,
    pub id: String,
    /// When set, refuse to run anything but this scenario (its hash).
    pub pinned_hash: Option<String>,
    pub out: Option<PathBuf>,
    pub connect_timeout: Duration,
}

/// How a worker's part ended.
#[derive(Debug, PartialEq, Eq)]
pub enum WorkerEnd {
    Finished,
    Interrupted,
    ManagerLost { results: PathBuf },
}

/// The running part the report thread reads: recorder, full plan (for stages), start.
type RunningPart = (Arc<Recorder>, RunPlan, DateTime<Utc>);

/// What the report thread and the runner share.
struct Link {
    run: Mutex<Option<RunningPart>>,
    commands: watch::Sender<Command>,
    manager_lost: AtomicBool,
    refused: Mutex<Option<String>>,
    final_requested: AtomicBool,
    final_acked: AtomicBool,
    /// Tells the report thread to end (the final report was not acknowledged in time).
    quit: AtomicBool,
    seq: AtomicU64,
}

pub fn scenario_of(spec: &ScenarioSpec) -> Result<Scenario, Failure> {
    let scenario = file::parse(&spec.name, &spec.source, &spec.text)
        .and_then(|s| {
            s.with_overrides(&Overrides {
                users: spec.users,
                spawn_rate: spec.spawn_rate,
                run_time: spec.run_time_ms.map(Duration::from_millis),
                host: None,
            })
        })
        .map_err(|e| Failure::Usage(format!("the manager's scenario does not load here: {e}")))?;
    if scenario.hash() != spec.hash {
        return Err(Failure::Usage(format!(
            "scenario mismatch: the manager's scenario resolves to hash {} here but {} there; run the same skein version",
            scenario.hash(),
            spec.hash
        )));
    }
    Ok(scenario)
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .build()
        .expect("a plain HTTP client always builds")
}

/// Sends one message; a refusal becomes `Err(Ok(reason))`, a transport problem `Err(Err(..))`.
async fn exchange<T: serde::de::DeserializeOwned>(
    client: &reqwest::Client,
    manager: &str,
    path: &str,
    token: &str,
    body: &impl serde::Serialize,
) -> Result<T, Result<String, String>> {
    let response = client
        .post(format!("{manager}{path}"))
        .bearer_auth(token)
        .header(PROTOCOL_HEADER, PROTOCOL_VERSION.to_string())
        .json(body)
        .send()
        .await
        .map_err(|e| Err(e.to_string()))?;
    let status = response.status();
    let echoed = response
        .headers()
        .get(REPLY_TOKEN_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let bytes = response.bytes().await.map_err(|e| Err(e.to_string()))?;
    if !status.is_success() {
        let reason = serde_json::from_slice::<Refusal>(&bytes)
            .map(|r| r.error)
            .unwrap_or_else(|_| format!("HTTP {status}"));
        return Err(Ok(format!("the manager refused: {reason}")));
    }
    if echoed.as_deref() != Some(token) {
        return Err(Ok("the manager's reply did not carry our token: refusing to follow a manager that does not know it".into()));
    }
    serde_json::from_slice(&bytes).map_err(|e| Err(format!("invalid reply: {e}")))
}

async fn register(config: &WorkerConfig) -> Result<Registered, Failure> {
    let client = client();
    let message = Register {
        worker_id: config.id.clone(),
        protocol_version: PROTOCOL_VERSION,
        scenario_hash: config.pinned_hash.clone(),
    };
    let started = Instant::now();
    loop {
        match exchange::<Registered>(
            &client,
            &config.manager,
            REGISTER_PATH,
            &config.token,
            &message,
        )
        .await
        {
            Ok(r) => return Ok(r),
            Err(Ok(refusal)) => return Err(Failure::Usage(refusal)),
            Err(Err(problem)) if started.elapsed() > config.connect_timeout => {
                return Err(Failure::Aborted(format!(
                    "manager {} unreachable for {}s: {problem}",
                    config.manager,
                    config.connect_timeout.as_secs()
                )))
            }
            Err(Err(_)) => tokio::time::sleep(Duration::from_millis(500)).await,
        }
    }
}

/// The report loop, on its own thread and runtime so saturated users cannot delay it.
fn spawn_reporter(
    link: Arc<Link>,
    config: &WorkerConfig,
    registered: &Registered,
    idle_plan: RunPlan,
) -> std::thread::JoinHandle<()> {
    let (manager, token, id, run_id, hash) = (
        config.manager.clone(),
        config.token.clone(),
        config.id.clone(),
        registered.run_id.clone(),
        registered.scenario.hash.clone(),
    );
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        runtime.block_on(async move {
            let client = client();
            let idle = Arc::new(Recorder::new());
            let mut last_ok = Instant::now();
            loop {
                if link.quit.load(Ordering::SeqCst) {
                    return;
                }
                let is_final = link.final_requested.load(Ordering::SeqCst);
                let (recorder, plan, started) = link
                    .run
                    .lock()
                    .expect("link poisoned")
                    .clone()
                    .unwrap_or_else(|| (idle.clone(), idle_plan.clone(), idle.started_at()));
                let tail = if is_final {
                    None
                } else {
                    Some(SERIES_TAIL_SECONDS)
                };
                let report = Report {
                    worker_id: id.clone(),
                    run_id: run_id.clone(),
                    seq: link.seq.fetch_add(1, Ordering::SeqCst),
                    scenario_hash: hash.clone(),
                    active_users: recorder.active_users(),
                    result: result_with_tail(&plan, &recorder, started, None, tail),
                    final_report: is_final,
                };
                match exchange::<Command>(&client, &manager, REPORT_PATH, &token, &report).await {
                    Ok(command) => {
                        last_ok = Instant::now();
                        if is_final && command == Command::Ack {
                            link.final_acked.store(true, Ordering::SeqCst);
                            return;
                        }
                        link.commands.send_replace(command);
                    }
                    Err(Ok(refusal)) => {
                        *link.refused.lock().expect("link poisoned") = Some(refusal);
                        link.manager_lost.store(true, Ordering::SeqCst);
                        return;
                    }
                    Err(Err(problem)) => {
                        if last_ok.elapsed() > MANAGER_SILENCE {
                            eprintln!(
                                "skein worker: manager silent for {}s ({problem})",
                                MANAGER_SILENCE.as_secs()
                            );
                            link.manager_lost.store(true, Ordering::SeqCst);
                            return;
                        }
                    }
                }
                let pause = if link.final_requested.load(Ordering::SeqCst) {
                    Duration::from_millis(200)
                } else {
                    REPORT_EVERY
                };
                tokio::time::sleep(pause).await;
            }
        });
    })
}

/// The stages left of `stages` once `elapsed` of the run has passed.
pub fn remaining(stages: &[StageShare], elapsed: Duration) -> Vec<Stage> {
    let mut t = Duration::ZERO;
    let mut left = Vec::new();
    for s in stages {
        let end = t + Duration::from_millis(s.duration_ms);
        if end > elapsed {
            left.push(Stage {
                users: s.users,
                spawn_rate: s.spawn_rate,
                duration: end - elapsed.max(t),
            });
        }
        t = end;
    }
    left
}

fn from_unix_ms(ms: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(ms.max(0) as u64)
}

fn plan_for(scenario: &Scenario, registered: &Registered, stages: Vec<Stage>) -> RunPlan {
    let mut plan = RunPlan::new(
        scenario.clone(),
        registered.host.clone(),
        registered.target_token.clone(),
    );
    plan.stages = stages;
    plan
}

/// Runs the worker's part of a distributed run.
pub async fn run_worker(config: WorkerConfig) -> Result<WorkerEnd, Failure> {
    let registered = register(&config).await?;
    let scenario = scenario_of(&registered.scenario)?;
    eprintln!(
        "skein worker {}: registered with {} for scenario `{}` against {}",
        config.id, config.manager, scenario.name, registered.host
    );
    let (commands, mut watch_commands) = watch::channel(Command::Wait);
    let link = Arc::new(Link {
        run: Mutex::new(None),
        commands,
        manager_lost: AtomicBool::new(false),
        refused: Mutex::new(None),
        final_requested: AtomicBool::new(false),
        final_acked: AtomicBool::new(false),
        quit: AtomicBool::new(false),
        seq: AtomicU64::new(0),
    });
    let idle_plan = plan_for(&scenario, &registered, scenario.stages.clone());
    let reporter = spawn_reporter(link.clone(), &config, &registered, idle_plan);
    let sigterm = Arc::new(AtomicBool::new(false));
    spawn_sigterm(sigterm.clone());

    let lost_or_refused = |link: &Link| -> Option<Failure> {
        if !link.manager_lost.load(Ordering::SeqCst) {
            return None;
        }
        Some(match link.refused.lock().expect("link poisoned").clone() {
            Some(refusal) => Failure::Usage(refusal),
            None => Failure::Aborted(format!(
                "manager {} lost before the run started",
                config.manager
            )),
        })
    };

    // Wait for the first assignment.
    let mut assignment = loop {
        if let Command::Run { assignment } = watch_commands.borrow_and_update().clone() {
            break assignment;
        }
        if let Some(f) = lost_or_refused(&link) {
            return Err(f);
        }
        if sigterm.load(Ordering::SeqCst) {
            return Ok(WorkerEnd::Interrupted);
        }
        let _ = tokio::time::timeout(Duration::from_millis(200), watch_commands.changed()).await;
    };
    let run_start = from_unix_ms(assignment.run_start_unix_ms);
    if let Ok(wait) = run_start.duration_since(SystemTime::now()) {
        tokio::time::sleep(wait).await;
    }
    let recorder = Arc::new(Recorder::new());
    let started_at = recorder.started_at();
    let full =
        |a: &Assignment| plan_for(&scenario, &registered, remaining(&a.stages, Duration::ZERO));
    *link.run.lock().expect("link poisoned") =
        Some((recorder.clone(), full(&assignment), started_at));

    let mut end = WorkerEnd::Finished;
    loop {
        let elapsed = SystemTime::now()
            .duration_since(run_start)
            .unwrap_or_default();
        let stages = remaining(&assignment.stages, elapsed);
        if stages.is_empty() {
            break;
        }
        eprintln!(
            "skein worker {}: users dealt to this worker: {}",
            config.id,
            summary(&assignment.launch_order)
        );
        let mut plan = plan_for(&scenario, &registered, stages);
        plan.start_order = Some(expand(&assignment.launch_order).map_err(Failure::Usage)?);
        let stop = StopHandle::default();
        let segment = {
            let (recorder, stop) = (recorder.clone(), stop.clone());
            tokio::spawn(async move { run_plan(&plan, recorder, &stop).await })
        };
        let mut next = None;
        loop {
            if segment.is_finished() {
                break;
            }
            if link.manager_lost.load(Ordering::SeqCst) {
                stop.stop(StopReason::Aborted);
            } else if sigterm.load(Ordering::SeqCst) {
                stop.stop(StopReason::Interrupted);
            } else {
                match watch_commands.borrow_and_update().clone() {
                    Command::Run { assignment: a } if a.version != assignment.version => {
                        eprintln!(
                            "skein worker {}: new share from the manager (version {})",
                            config.id, a.version
                        );
                        next = Some(a);
                        stop.stop(StopReason::Commanded);
                    }
                    Command::Stop | Command::Ack => stop.stop(StopReason::Commanded),
                    _ => {}
                }
            }
            let _ =
                tokio::time::timeout(Duration::from_millis(200), watch_commands.changed()).await;
        }
        let _ = segment.await;
        match stop.reason() {
            Some(StopReason::Aborted) => {
                end = WorkerEnd::ManagerLost {
                    results: PathBuf::new(),
                };
                break;
            }
            Some(StopReason::Interrupted) => {
                end = WorkerEnd::Interrupted;
                break;
            }
            _ => {}
        }
        match next {
            Some(a) => {
                assignment = a;
                *link.run.lock().expect("link poisoned") =
                    Some((recorder.clone(), full(&assignment), started_at));
            }
            None => break,
        }
    }
    recorder.roll(true);

    if matches!(end, WorkerEnd::ManagerLost { .. }) || link.manager_lost.load(Ordering::SeqCst) {
        let dir = config.out.clone().unwrap_or_else(|| {
            crate::commands::run::default_out_dir(&format!("worker-{}", config.id))
        });
        let mut result = result_with_tail(
            &full(&assignment),
            &recorder,
            started_at,
            Some(StopReason::Aborted),
            None,
        );
        result.metadata.partial = true;
        reports::write_all(&result, &dir)
            .map_err(|e| Failure::Aborted(format!("cannot write local results: {e}")))?;
        eprintln!(
            "skein worker {}: manager lost; partial results written to {}",
            config.id,
            dir.display()
        );
        return Ok(WorkerEnd::ManagerLost { results: dir });
    }

    // Final report: the whole series, until the manager acknowledges it.
    link.final_requested.store(true, Ordering::SeqCst);
    let waited = Instant::now();
    while !link.final_acked.load(Ordering::SeqCst)
        && !link.manager_lost.load(Ordering::SeqCst)
        && waited.elapsed() < Duration::from_secs(10)
    {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    link.quit.store(true, Ordering::SeqCst);
    let _ = tokio::task::spawn_blocking(move || reporter.join()).await;
    if !link.final_acked.load(Ordering::SeqCst) {
        eprintln!(
            "skein worker {}: the manager did not acknowledge the final report",
            config.id
        );
    }
    Ok(end)
}

fn spawn_sigterm(flag: Arc<AtomicBool>) {
    tokio::spawn(async move {
        #[cfg(unix)]
        if let Ok(mut term) =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            term.recv().await;
            eprintln!("skein worker: SIGTERM: stopping users, sending the final report");
            flag.store(true, Ordering::SeqCst);
        }
    });
}

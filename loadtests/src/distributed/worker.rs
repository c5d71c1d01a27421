//! The worker: registers with the manager, runs its share of the scenario, reports what
//! changed in its measurements every second from a thread of its own (see [`super::outbox`]),
//! and follows the manager's commands (start, rebalance, stop). If the manager goes silent
//! it stops its users and writes its own partial results locally.
//!
//! One `select!` loop reacts to whatever comes first: an event from the report thread (a
//! command, a refusal, the manager lost, the final report acknowledged), the users' segment
//! ending, or an interrupt. The report thread has its own runtime, so saturated users cannot
//! delay reports; if it dies (a panic), its channel closes and the worker ends with an error.
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tokio::sync::{mpsc, watch};

use super::faults::{Fault, ReportFaults};
use super::outbox::Outbox;
use super::protocol::*;
use super::share::{remaining, row_deals, summary, worker_plan};
use super::totals::Measurements;
use crate::engine::{StopHandle, StopReason};
use crate::exit::Failure;
use crate::live_outputs::LiveOutputs;
use crate::recorder::Recorder;
use crate::results::{self, default_out_dir};
use crate::runner::{run_plan, RunPlan};
use crate::scenario::data_file::DataSource;
use crate::scenario::{file, Overrides, Scenario, Stage};
use crate::signals;
use crate::users::declared::skipped_notes;

/// The manager is considered gone after this long without a successful exchange.
pub const MANAGER_SILENCE: Duration = Duration::from_secs(5);
pub const REPORT_EVERY: Duration = Duration::from_secs(1);
/// How long the worker waits for the manager to acknowledge its final report.
const FINAL_ACK_TIMEOUT: Duration = Duration::from_secs(10);

pub struct WorkerConfig {
    /// The manager's base URL, e.g. http://manager:5557.
    pub manager: String,
    pub token: String,
    pub id: String,
    /// When set, refuse to run anything but this scenario (its hash).
    pub pinned_hash: Option<String>,
    pub out: Option<PathBuf>,
    pub connect_timeout: Duration,
    /// Test only: reports to drop, repeat or send late (see [`super::faults`]).
    pub faults: ReportFaults,
    /// `/metrics` and `--jsonl` of this worker's own share (attached when the run starts).
    pub live: LiveOutputs,
    /// `--tokenizer`, loaded: this worker's own (the manager sends none).
    pub tokenizer: Option<std::sync::Arc<crate::users::llm::tokenizer::TokenCounter>>,
}

/// How a worker's part ended.
#[derive(Debug, PartialEq, Eq)]
pub enum WorkerEnd {
    Finished,
    Interrupted,
    ManagerLost { results: PathBuf },
}

/// What the report thread reads: the recorder whose measurements it reports.
type RunningPart = Arc<Recorder>;

/// What the report thread tells the worker's loop.
#[derive(Debug)]
enum Event {
    Command(Command),
    Refused(String),
    ManagerLost(String),
    FinalAcked,
}

pub fn scenario_of(spec: &ScenarioSpec) -> Result<Scenario, Failure> {
    let data = DataSource::Shipped(&spec.data_files);
    let scenario = file::parse_with_data(&spec.name, &spec.source, &spec.text, data)
        .and_then(|s| {
            s.with_overrides(&Overrides {
                users: spec.users,
                spawn_rate: spec.spawn_rate,
                rate: spec.rate,
                run_time: spec.run_time_ms.map(Duration::from_millis),
                host: None,
                a2a_version: spec.a2a_version.clone(),
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

/// A request body: its content type and bytes.
struct Body(&'static str, Vec<u8>);

impl Body {
    fn json(message: &impl serde::Serialize) -> Body {
        let bytes = serde_json::to_vec(message).expect("protocol messages always serialize");
        Body("application/json", bytes)
    }
}

/// Sends one message; a refusal becomes `Err(Ok(reason))`, a transport problem `Err(Err(..))`.
async fn exchange<T: serde::de::DeserializeOwned>(
    client: &reqwest::Client,
    manager: &str,
    path: &str,
    token: &str,
    Body(content_type, bytes): Body,
) -> Result<T, Result<String, String>> {
    let response = client
        .post(format!("{manager}{path}"))
        .bearer_auth(token)
        .header(PROTOCOL_HEADER, PROTOCOL_VERSION.to_string())
        .header(reqwest::header::CONTENT_TYPE, content_type)
        .body(bytes)
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
        scenario_hash: config.pinned_hash.clone(),
    };
    let started = Instant::now();
    loop {
        match exchange::<Registered>(
            &client,
            &config.manager,
            REGISTER_PATH,
            &config.token,
            Body::json(&message),
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

/// The report thread's ends of its channels.
struct ReporterLink {
    part: watch::Receiver<Option<RunningPart>>,
    final_requested: watch::Receiver<bool>,
    events: mpsc::UnboundedSender<Event>,
}

/// What the report thread needs to address its reports.
struct ReportTo {
    manager: String,
    token: String,
    worker_id: String,
    run_id: String,
    scenario_hash: String,
    faults: ReportFaults,
}

/// The report thread's state: its client and outbox, and when the manager last answered.
struct Reporter {
    to: ReportTo,
    client: reqwest::Client,
    outbox: Outbox,
    session: u64,
    last_ok: Instant,
    /// A report held back by the test-only `reorder` fault, sent after the next one.
    held: Option<Vec<u8>>,
}

impl Reporter {
    /// The next report from `recorder`'s measurements, encoded.
    fn build(&mut self, recorder: &Recorder, is_final: bool) -> (u64, Vec<u8>) {
        let now_unix = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        let tail = if is_final {
            None
        } else {
            self.outbox.tail_seconds(now_unix)
        };
        let (requests, failures, seconds) = recorder.totals_with_tail(tail);
        let (total_requests, total_failures) = requests
            .iter()
            .fold((0, 0), |(r, f), s| (r + s.requests, f + s.failures));
        let measured = Measurements {
            requests,
            failures,
            seconds,
            dropped_arrivals: recorder.dropped_arrivals(),
            skipped: recorder.skipped_requests(),
        };
        let out = self.outbox.next(&measured);
        let report = Report {
            worker_id: self.to.worker_id.clone(),
            run_id: self.to.run_id.clone(),
            scenario_hash: self.to.scenario_hash.clone(),
            session: self.session,
            seq: out.seq,
            base: out.base,
            final_report: is_final,
            active_users: recorder.active_users(),
            requests: total_requests,
            failures: total_failures,
            resources: recorder.resources(),
            machine_cores: std::thread::available_parallelism().map_or(1, |n| n.get() as u32),
            change: out.change,
        };
        (out.seq, report.encode())
    }

    /// Sends one encoded report and follows the reply's `applied`; `None`: no reply.
    async fn send(&mut self, bytes: Vec<u8>) -> Option<Event> {
        let body = Body(REPORT_CONTENT_TYPE, bytes);
        let to = &self.to;
        match exchange::<ReportReply>(&self.client, &to.manager, REPORT_PATH, &to.token, body).await
        {
            Ok(reply) => {
                self.last_ok = Instant::now();
                Some(match self.outbox.replied(reply.applied) {
                    Ok(()) => Event::Command(reply.command),
                    Err(e) => Event::Refused(e.to_string()),
                })
            }
            Err(Ok(refusal)) => Some(Event::Refused(refusal)),
            Err(Err(problem)) if self.last_ok.elapsed() > MANAGER_SILENCE => {
                Some(Event::ManagerLost(format!(
                    "silent for {}s ({problem})",
                    MANAGER_SILENCE.as_secs()
                )))
            }
            Err(Err(_)) => None,
        }
    }

    /// Builds and sends report `seq` (dropped, repeated or held back when a test fault
    /// says so); the event of the last reply.
    async fn report(&mut self, recorder: &Recorder, is_final: bool) -> Option<Event> {
        let (seq, bytes) = self.build(recorder, is_final);
        let mut event = match self.to.faults.at(seq) {
            Some(Fault::Drop) => None,
            Some(Fault::Reorder) => {
                self.held = Some(bytes);
                None
            }
            Some(Fault::Repeat) => {
                let first = self.send(bytes.clone()).await;
                self.send(bytes).await.or(first)
            }
            None => self.send(bytes).await,
        };
        if event.is_some() {
            if let Some(late) = self.held.take() {
                let reply = self.send(late).await;
                if !matches!(reply, Some(Event::Command(_))) {
                    event = reply;
                }
            }
        }
        event
    }
}

/// The report loop, on its own thread and runtime so saturated users cannot delay it.
fn spawn_reporter(
    mut link: ReporterLink,
    config: &WorkerConfig,
    registered: &Registered,
    idle: RunningPart,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    let to = ReportTo {
        manager: config.manager.clone(),
        token: config.token.clone(),
        worker_id: config.id.clone(),
        run_id: registered.run_id.clone(),
        scenario_hash: registered.scenario.hash.clone(),
        faults: config.faults.clone(),
    };
    std::thread::Builder::new()
        .name("skein-reporter".into())
        .spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a current-thread runtime builds");
            runtime.block_on(async move {
                let mut reporter = Reporter {
                    to,
                    client: client(),
                    outbox: Outbox::new(),
                    session: rand::random(),
                    last_ok: Instant::now(),
                    held: None,
                };
                loop {
                    let is_final = *link.final_requested.borrow_and_update();
                    let recorder = link.part.borrow().clone().unwrap_or_else(|| idle.clone());
                    let event = reporter.report(&recorder, is_final).await;
                    let event = match event {
                        Some(Event::Command(Command::Ack)) if is_final => Some(Event::FinalAcked),
                        other => other,
                    };
                    let ends = matches!(
                        event,
                        Some(Event::FinalAcked | Event::Refused(_) | Event::ManagerLost(_))
                    );
                    if let Some(event) = event {
                        if link.events.send(event).is_err() || ends {
                            return;
                        }
                    }
                    let pause = if is_final {
                        Duration::from_millis(200)
                    } else {
                        REPORT_EVERY
                    };
                    tokio::select! {
                        _ = tokio::time::sleep(pause) => {}
                        _ = link.final_requested.changed() => {}
                    }
                }
            });
        })
}

fn from_unix_ms(ms: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(u64::try_from(ms).unwrap_or(0))
}

fn plan_for(
    scenario: &Scenario,
    registered: &Registered,
    (stages, start_rate): (Vec<Stage>, f64),
    assignment: Option<&Assignment>,
) -> Result<RunPlan, Failure> {
    let mut plan = RunPlan::new(
        scenario.clone(),
        registered.host.clone(),
        registered.target_token.clone(),
    );
    let order = assignment.map_or(&[][..], |a| &a.launch_order[..]);
    let max_in_flight = assignment.map_or(scenario.max_in_flight, |a| a.max_in_flight);
    plan.launch = worker_plan(scenario, stages, order, max_in_flight).map_err(Failure::Usage)?;
    plan.launch.start_rate = start_rate;
    Ok(plan)
}

/// Makes the users of this share take the data-file rows of its place in the run (not the
/// rows every other worker's users would take too).
fn deal_rows(scenario: &Scenario, assignment: &Assignment) {
    let workers = assignment.worker_count.max(1);
    for (class, deal) in row_deals(scenario, workers, assignment.worker_rank) {
        if let Some(data) = &class.data {
            data.deal_rows(deal);
        }
    }
}

/// The whole share's plan (for the result's stages), whatever part of it is left.
fn full_plan(
    scenario: &Scenario,
    registered: &Registered,
    a: &Assignment,
) -> Result<RunPlan, Failure> {
    plan_for(
        scenario,
        registered,
        remaining(&a.stages, Duration::ZERO),
        Some(a),
    )
}

/// Why the report thread stopped talking: its panic message when it panicked.
fn reporter_failure(reporter: std::thread::JoinHandle<()>) -> Failure {
    let why = match reporter.join() {
        Err(payload) => payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "a panic".into()),
        Ok(()) => "it ended".into(),
    };
    Failure::Aborted(format!("the worker's report thread failed ({why})"))
}

/// Runs the worker's part of a distributed run.
pub async fn run_worker(config: WorkerConfig) -> Result<WorkerEnd, Failure> {
    signals::install();
    let registered = register(&config).await?;
    let scenario = scenario_of(&registered.scenario)?;
    eprintln!(
        "skein worker {}: registered with {} for scenario `{}` against {}",
        config.id, config.manager, scenario.name, registered.host
    );
    let (part_tx, part_rx) = watch::channel(None);
    let (final_tx, final_rx) = watch::channel(false);
    let (events_tx, mut events) = mpsc::unbounded_channel();
    let idle = Arc::new(Recorder::new());
    let link = ReporterLink {
        part: part_rx,
        final_requested: final_rx,
        events: events_tx,
    };
    let reporter = spawn_reporter(link, &config, &registered, idle)
        .map_err(|e| Failure::Aborted(format!("cannot start the report thread: {e}")))?;
    let interrupt = signals::first_interrupt();
    tokio::pin!(interrupt);

    // Wait for the first assignment.
    let mut assignment = loop {
        tokio::select! {
            event = events.recv() => match event {
                Some(Event::Command(Command::Run { assignment })) => break assignment,
                Some(Event::Command(_) | Event::FinalAcked) => {}
                Some(Event::Refused(refusal)) => return Err(Failure::Usage(refusal)),
                Some(Event::ManagerLost(why)) => {
                    return Err(Failure::Aborted(format!(
                        "manager {} lost before the run started: {why}",
                        config.manager
                    )))
                }
                None => return Err(reporter_failure(reporter)),
            },
            _ = &mut interrupt => return Ok(WorkerEnd::Interrupted),
        }
    };
    let run_start = from_unix_ms(assignment.run_start_unix_ms);
    // A worker ready before the agreed start runs its whole share from that instant, however
    // late it gets going; one that joins later takes the part still ahead.
    let mut on_time = SystemTime::now() <= run_start;
    if let Ok(wait) = run_start.duration_since(SystemTime::now()) {
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = &mut interrupt => return Ok(WorkerEnd::Interrupted),
        }
    }
    let recorder = Arc::new(Recorder::new());
    config.live.attach(recorder.clone(), &scenario);
    part_tx.send_replace(Some(recorder.clone()));

    let mut end = WorkerEnd::Finished;
    let mut lost: Option<String> = None;
    let mut reporter_alive = true;
    loop {
        let since_start = SystemTime::now()
            .duration_since(run_start)
            .unwrap_or_default();
        let (elapsed, schedule_start) = if std::mem::take(&mut on_time) {
            (Duration::ZERO, Instant::now().checked_sub(since_start))
        } else {
            (since_start, None)
        };
        let stages = remaining(&assignment.stages, elapsed);
        if stages.0.is_empty() {
            break;
        }
        eprintln!("skein worker {}: {}", config.id, summary(&assignment));
        let mut plan = plan_for(&scenario, &registered, stages, Some(&assignment))?;
        plan.tokenizer = config.tokenizer.clone();
        plan.launch.schedule_start = schedule_start;
        deal_rows(&scenario, &assignment);
        let stop = StopHandle::default();
        let mut segment = {
            let (recorder, stop) = (recorder.clone(), stop.clone());
            tokio::spawn(async move { run_plan(&plan, recorder, &stop).await })
        };
        let mut next = None;
        loop {
            tokio::select! {
                _ = &mut segment => break,
                event = events.recv(), if reporter_alive => match event {
                    Some(Event::Command(Command::Run { assignment: a }))
                        if a.version != assignment.version =>
                    {
                        eprintln!(
                            "skein worker {}: new share from the manager (version {})",
                            config.id, a.version
                        );
                        next = Some(a);
                        stop.stop(StopReason::Commanded);
                    }
                    Some(Event::Command(Command::Stop | Command::Ack)) => {
                        stop.stop(StopReason::Commanded)
                    }
                    Some(Event::Command(_) | Event::FinalAcked) => {}
                    Some(Event::Refused(why) | Event::ManagerLost(why)) => {
                        lost = Some(why);
                        stop.stop(StopReason::Aborted);
                    }
                    None => {
                        reporter_alive = false;
                        lost = Some("the report thread ended".into());
                        stop.stop(StopReason::Aborted);
                    }
                },
                _ = &mut interrupt, if stop.reason().is_none() => {
                    eprintln!("skein worker: interrupted: stopping users, sending the final report");
                    stop.stop(StopReason::Interrupted);
                }
            }
        }
        match stop.reason() {
            Some(StopReason::Aborted) => break,
            Some(StopReason::Interrupted) => {
                end = WorkerEnd::Interrupted;
                break;
            }
            _ => {}
        }
        match next {
            Some(a) => assignment = a,
            None => break,
        }
    }
    recorder.roll(true);
    if let Err(e) = config.live.finish() {
        eprintln!("skein worker {}: {e}", config.id);
    }
    for note in skipped_notes(&recorder.skipped_requests()) {
        eprintln!("skein worker {}: {note}", config.id);
    }

    if let Some(why) = lost {
        let dir = config
            .out
            .clone()
            .unwrap_or_else(|| default_out_dir(&format!("worker-{}", config.id)));
        let plan = full_plan(&scenario, &registered, &assignment)?;
        let mut result = results::build(
            &plan.result_input(),
            &recorder,
            Some(StopReason::Aborted),
            None,
        );
        result.metadata.partial = true;
        reports::write_all(&result, &dir)
            .map_err(|e| Failure::Aborted(format!("cannot write local results: {e}")))?;
        eprintln!(
            "skein worker {}: manager lost ({why}); partial results written to {}",
            config.id,
            dir.display()
        );
        if !reporter_alive {
            return Err(reporter_failure(reporter));
        }
        return Ok(WorkerEnd::ManagerLost { results: dir });
    }

    // Final report: the whole series, until the manager acknowledges it.
    final_tx.send_replace(true);
    let acked = tokio::time::timeout(FINAL_ACK_TIMEOUT, async {
        loop {
            match events.recv().await {
                Some(Event::FinalAcked) => return true,
                Some(Event::Refused(_) | Event::ManagerLost(_)) | None => return false,
                Some(Event::Command(_)) => {}
            }
        }
    })
    .await
    .unwrap_or(false);
    drop(events);
    if !acked {
        eprintln!(
            "skein worker {}: the manager did not acknowledge the final report",
            config.id
        );
    }
    if let Some(dir) = &config.out {
        // This worker's part as it measured it: what its reports added up to.
        let plan = full_plan(&scenario, &registered, &assignment)?;
        let stopped = (end == WorkerEnd::Interrupted).then_some(StopReason::Interrupted);
        let result = results::build(&plan.result_input(), &recorder, stopped, None);
        reports::write_all(&result, dir)
            .map_err(|e| Failure::Aborted(format!("cannot write local results: {e}")))?;
        eprintln!(
            "skein worker {}: its own results written to {}",
            config.id,
            dir.display()
        );
    }
    Ok(end)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A panicking report thread closes its channel; the worker's loop then sees `None`
    /// and ends with this error, naming the panic, instead of waiting forever.
    #[test]
    fn a_panicking_report_thread_becomes_an_error_naming_the_panic() {
        let (tx, mut rx) = mpsc::unbounded_channel::<Event>();
        let thread = std::thread::spawn(move || {
            let _keep = tx;
            panic!("report encoding broke");
        });
        assert!(
            rx.blocking_recv().is_none(),
            "the channel closes with the thread"
        );
        let failure = reporter_failure(thread).to_string();
        assert!(failure.contains("report encoding broke"), "{failure}");
        assert!(matches!(
            reporter_failure(std::thread::spawn(|| ())),
            Failure::Aborted(_)
        ));
    }
}

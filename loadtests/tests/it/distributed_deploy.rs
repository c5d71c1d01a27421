//! docker-compose.yml and the Kubernetes manifests parse, and every command in them is
//! accepted by the real `skein` and `target-server` argument parsers. (No container engine
//! runs here, so this is what can be checked without one.)
use clap::Parser;
use serde::Deserialize;
use serde_norway::Value;

/// The target-server binary's command line (its main flattens exactly this config).
#[derive(Parser)]
struct TargetServerCli {
    #[command(flatten)]
    _config: target_server::ServerConfig,
}

fn root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Compose-style `${VAR:-default}` → default, `${VAR:?message}` / `${VAR}` → "x".
fn substitute(arg: &str) -> String {
    let mut out = String::new();
    let mut rest = arg;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let end = rest[start..].find('}').expect("closed ${...}") + start;
        let inner = &rest[start + 2..end];
        out.push_str(match inner.split_once(":-") {
            Some((_, default)) => default,
            None => "x",
        });
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    out
}

/// Checks one container command; `env` names the environment variables the container gets.
fn check_command(where_: &str, command: &[String], env: &[String]) {
    let args: Vec<String> = command.iter().map(|a| substitute(a)).collect();
    match args.first().map(String::as_str) {
        Some("skein") => {
            let mut args = args.clone();
            // clap would read these from the environment the manifest provides.
            if env.iter().any(|e| e == "SKEIN_TOKEN") {
                args.extend(["--token".into(), "from-env".into()]);
            }
            if let Err(e) = skein::cli::Cli::try_parse_from(&args) {
                panic!("{where_}: skein rejects {args:?}:\n{e}");
            }
        }
        Some("target-server") => {
            if let Err(e) = TargetServerCli::try_parse_from(&args) {
                panic!("{where_}: target-server rejects {args:?}:\n{e}");
            }
        }
        other => panic!("{where_}: unexpected program {other:?}"),
    }
}

fn strings(v: &Value) -> Vec<String> {
    match v {
        Value::Sequence(items) => items
            .iter()
            .map(|i| match i {
                Value::String(s) => s.clone(),
                other => serde_norway::to_string(other).unwrap().trim().to_string(),
            })
            .collect(),
        Value::String(s) => s.split_whitespace().map(str::to_string).collect(),
        _ => Vec::new(),
    }
}

#[test]
fn docker_compose_services_run_commands_skein_accepts() {
    let text = std::fs::read_to_string(root().join("docker-compose.yml")).unwrap();
    let doc: Value = serde_norway::from_str(&text).expect("docker-compose.yml is YAML");
    let services = doc["services"].as_mapping().expect("services");
    let names: Vec<&str> = services.keys().filter_map(Value::as_str).collect();
    for expected in ["target-server", "manager", "worker"] {
        assert!(
            names.contains(&expected),
            "service {expected} missing: {names:?}"
        );
    }
    for (name, service) in services {
        let name = name.as_str().unwrap();
        // The monitoring profile's Prometheus and Grafana are checked in `grafana_dashboard`.
        if service["image"].as_str() != Some("skein:latest") {
            continue;
        }
        let env: Vec<String> = service["environment"]
            .as_mapping()
            .map(|m| {
                m.keys()
                    .filter_map(|k| k.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        check_command(
            &format!("docker-compose.yml service {name}"),
            &strings(&service["command"]),
            &env,
        );
    }
    // The token comes from the environment, never from the file; results go to a mounted reports/out.
    assert!(!text.contains("SKEIN_TOKEN: \"") && text.contains("${SKEIN_TOKEN:?"));
    assert!(services["manager"]["volumes"]
        .as_sequence()
        .unwrap()
        .iter()
        .any(|v| v.as_str().unwrap().starts_with("./reports/out:")));
    let dockerfile = std::fs::read_to_string(root().join("Dockerfile")).unwrap();
    assert!(
        dockerfile.contains("-p skein -p target-server")
            && dockerfile.matches("FROM ").count() >= 2,
        "multi-stage, both binaries"
    );
}

#[derive(Deserialize)]
struct Manifest {
    kind: String,
    #[serde(default)]
    spec: Value,
}

fn containers(spec: &Value) -> Vec<&Value> {
    spec["template"]["spec"]["containers"]
        .as_sequence()
        .map(|c| c.iter().collect())
        .unwrap_or_default()
}

#[test]
fn kubernetes_manifests_parse_and_their_commands_are_accepted() {
    let dir = root().join("deploy/kubernetes");
    let mut kinds = Vec::new();
    let mut expect_workers = None;
    let mut job_parallelism = None;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        for document in serde_norway::Deserializer::from_str(&text) {
            let m = Manifest::deserialize(document)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            kinds.push(m.kind.clone());
            for c in containers(&m.spec) {
                let command = strings(&c["command"]);
                let env: Vec<String> = c["env"]
                    .as_sequence()
                    .map(|e| {
                        e.iter()
                            .filter_map(|v| v["name"].as_str().map(str::to_string))
                            .collect()
                    })
                    .unwrap_or_default();
                check_command(&format!("{} ({})", path.display(), m.kind), &command, &env);
                if let Some(i) = command.iter().position(|a| a == "--expect-workers") {
                    expect_workers = command[i + 1].parse::<u64>().ok();
                }
            }
            if m.kind == "Job" {
                assert_eq!(m.spec["completionMode"].as_str(), Some("Indexed"));
                job_parallelism = m.spec["parallelism"].as_u64();
                assert_eq!(m.spec["completions"].as_u64(), job_parallelism);
            }
        }
    }
    for kind in ["Deployment", "Service", "Job", "Secret"] {
        assert!(
            kinds.iter().any(|k| k == kind),
            "no {kind} in deploy/kubernetes: {kinds:?}"
        );
    }
    assert_eq!(
        expect_workers, job_parallelism,
        "the manager waits for as many workers as the Job runs"
    );
}

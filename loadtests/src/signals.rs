//! SIGINT and SIGTERM, handled in one place for every command.
//!
//! The first signal asks the run to stop gracefully (results are still written); a second one
//! exits at once with 130. One process-wide handler (the `ctrlc` crate, which goose also uses:
//! installing ours first makes goose keep its hands off) feeds a counter every command can
//! wait on.
use std::sync::OnceLock;

use tokio::sync::watch;

use crate::exit::EXIT_INTERRUPTED;

static INTERRUPTS: OnceLock<watch::Sender<u32>> = OnceLock::new();

fn sender() -> &'static watch::Sender<u32> {
    INTERRUPTS.get_or_init(|| {
        let (tx, _) = watch::channel(0);
        let handler_tx = tx.clone();
        let installed = ctrlc::set_handler(move || {
            let mut count = 0;
            handler_tx.send_modify(|n| {
                *n += 1;
                count = *n;
            });
            if count > 1 {
                eprintln!("skein: second interrupt: exiting now");
                std::process::exit(i32::from(EXIT_INTERRUPTED));
            }
        });
        if let Err(e) = installed {
            tracing::warn!("cannot install the interrupt handler: {e}");
        }
        tx
    })
}

/// Installs the handler (idempotent). Call before the engine starts, so goose's own
/// Ctrl-C handler finds one in place.
pub fn install() {
    sender();
}

/// Resolves at the first SIGINT or SIGTERM (at once if one already came).
pub async fn first_interrupt() {
    let mut rx = sender().subscribe();
    let _ = rx.wait_for(|n| *n > 0).await;
}

/// Resolves at the next SIGINT or SIGTERM from now on (one that came before does not count),
/// e.g. to end the dashboard's linger after a run that was itself interrupted.
pub async fn next_interrupt() {
    let mut rx = sender().subscribe();
    let seen = *rx.borrow_and_update();
    let _ = rx.wait_for(|n| *n > seen).await;
}

//! The demo's stop request. Ctrl-C, SIGTERM (what `timeout`, CI and
//! systemd send) and SIGHUP (a closed terminal) all ask for the same
//! orderly stop: the load ends, the services are asked to stop and waited
//! for, and the report is printed. None of them ends the demo on the spot,
//! which would leave its services running.

use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::watch;

/// Whether, and by which signal, the demo was asked to stop.
pub struct StopSignal {
    received: watch::Receiver<Option<&'static str>>,
}

impl StopSignal {
    /// Takes the three signals over from now on (inside a tokio runtime).
    pub fn listen() -> std::io::Result<Self> {
        let mut interrupt = signal(SignalKind::interrupt())?;
        let mut terminate = signal(SignalKind::terminate())?;
        let mut hangup = signal(SignalKind::hangup())?;
        let (sender, received) = watch::channel(None);
        tokio::spawn(async move {
            let name = tokio::select! {
                _ = interrupt.recv() => "Ctrl-C",
                _ = terminate.recv() => "SIGTERM",
                _ = hangup.recv() => "SIGHUP",
            };
            let _ = sender.send(Some(name));
            // tokio keeps the signals caught for the process's lifetime:
            // a second one during the orderly stop is ignored, rather than
            // cutting the stop short and leaving services behind.
        });
        Ok(Self { received })
    }

    /// The signal that asked to stop, once one has (at once if one has).
    pub async fn received(&self) -> &'static str {
        let mut received = self.received.clone();
        let name = match received.wait_for(Option::is_some).await {
            Ok(name) => *name,
            // The listener is gone without a signal: the runtime is
            // shutting down, and no signal will ever come.
            Err(_) => None,
        };
        match name {
            Some(name) => name,
            None => std::future::pending().await,
        }
    }

    /// The signal that asked to stop, if one has so far.
    pub fn received_now(&self) -> Option<&'static str> {
        *self.received.borrow()
    }
}

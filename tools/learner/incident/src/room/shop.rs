//! A learner's shop in a room, and its life: stopped, starting, running
//! (the collector and the shop with the learner's problems planted, the
//! demo's load, their orders' traces saved every minute) or failed to
//! start. One start at a time for each learner, whoever asks for it: two
//! joins under one name wait for the same start, and never start two shops
//! on the same ports; two learners' starts run side by side. None starts
//! while the room stops. A shop said to run whose collector no longer
//! answers (a program that died) is stopped and started again when its
//! learner joins again.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use demo::Ended;
use loadgen::Report;
use serde::{Deserialize, Serialize};
use shop::Problem;
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;

use super::lock;
use crate::recording;
use crate::run::UNTIL_STOPPED;
use crate::scenario::{self, Ports, Scenario, Surroundings};

/// How long a learner's services have to answer their health checks:
/// several shops may start at once on the same cores.
const HEALTHY_WITHIN: Duration = Duration::from_secs(3 * scenario::HEALTHY_WITHIN.as_secs());

/// How long a running shop's collector has to answer before the shop is
/// taken for dead.
const ANSWERS_WITHIN: Duration = Duration::from_secs(2);

/// What a shop's start tells those who wait for it: running, or why not.
type Outcome = Option<Result<(), String>>;

/// What a learner's shop is started with.
#[derive(Clone, Debug)]
pub struct Launch {
    /// The learner's name, for the instructor's terminal.
    pub name: String,
    pub problems: Vec<Problem>,
    pub ports: Ports,
    pub bin_dir: PathBuf,
    /// The learner's folder: their programs' logs, their databases, their
    /// recordings.
    pub folder: PathBuf,
    pub customers: usize,
}

/// A learner's shop, as the room's table shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ShopState {
    Stopped,
    Starting,
    Running,
    Failed,
}

/// A learner's shop.
#[derive(Default)]
pub struct LearnerShop {
    slot: Mutex<Slot>,
    /// Starts so far: each running shop knows which start it was, so that
    /// a shop found dead is stopped, not the one started since.
    starts: AtomicU64,
}

#[derive(Default)]
enum Slot {
    #[default]
    Stopped,
    Starting {
        /// Told once the start is over.
        started: watch::Receiver<Outcome>,
        task: JoinHandle<()>,
    },
    Running(Box<Running>),
    Failed,
}

impl LearnerShop {
    pub fn state(&self) -> ShopState {
        match &*lock(&self.slot) {
            Slot::Stopped => ShopState::Stopped,
            Slot::Starting { .. } => ShopState::Starting,
            Slot::Running(_) => ShopState::Running,
            Slot::Failed => ShopState::Failed,
        }
    }

    /// Once the shop runs: at once if it does (and its collector
    /// answers: else what is left of it is stopped, and it starts again),
    /// after the start under way if one is, else after a start as `launch`
    /// says (stopped, or failed before). Why not, if it does not: refused
    /// while `room_stopping`.
    pub async fn ensure_running(
        self: &Arc<Self>,
        launch: Launch,
        room_stopping: &AtomicBool,
    ) -> Result<(), String> {
        if let Some(start) = self.running_start() {
            // Asked outside the lock: nobody waits on a dead collector.
            let collector = collector_client::Client::on_port(launch.ports.collector_ui);
            if !collector.answers(ANSWERS_WITHIN).await {
                println!(
                    "{}'s collector does not answer: their shop starts again.",
                    launch.name
                );
                for line in self.stop_start(start).await {
                    println!("warning: {}'s {line}", launch.name);
                }
            }
        }
        let mut started = {
            let mut slot = lock(&self.slot);
            // Read under the lock the room's stop takes the slot under: a
            // start begun before the stop is one the stop calls off.
            if room_stopping.load(Ordering::SeqCst) {
                return Err(ROOM_STOPPING.to_owned());
            }
            match &*slot {
                Slot::Running(_) => return Ok(()),
                Slot::Starting { started, .. } => started.clone(),
                Slot::Stopped | Slot::Failed => {
                    let (tell, started) = watch::channel(None);
                    let number = self.starts.fetch_add(1, Ordering::SeqCst);
                    let task = tokio::spawn(start(self.clone(), launch, number, tell));
                    *slot = Slot::Starting {
                        started: started.clone(),
                        task,
                    };
                    started
                }
            }
        };
        let told = match started.wait_for(Option::is_some).await {
            Ok(outcome) => (*outcome).clone(),
            Err(_) => None,
        };
        told.unwrap_or_else(|| Err(STOPPED_WHILE_STARTING.to_owned()))
    }

    /// Which start the running shop is, if one runs.
    fn running_start(&self) -> Option<u64> {
        match &*lock(&self.slot) {
            Slot::Running(running) => Some(running.start),
            Slot::Stopped | Slot::Starting { .. } | Slot::Failed => None,
        }
    }

    /// Stops the shop if it still is the one of start `start`: what went
    /// wrong, if anything did.
    async fn stop_start(&self, start: u64) -> Vec<String> {
        let taken = {
            let mut slot = lock(&self.slot);
            let same = matches!(&*slot, Slot::Running(running) if running.start == start);
            if !same {
                return Vec::new();
            }
            std::mem::take(&mut *slot)
        };
        match taken {
            Slot::Running(running) => (*running).stop().await,
            Slot::Stopped | Slot::Starting { .. } | Slot::Failed => Vec::new(),
        }
    }

    /// Keeps what a start achieved, if the shop is still wanted (the room
    /// may have stopped meanwhile: then what started stops at once); what
    /// to tell those who wait.
    fn settle(&self, outcome: Result<Running, String>) -> Result<(), String> {
        let mut slot = lock(&self.slot);
        let wanted = matches!(*slot, Slot::Starting { .. });
        match (outcome, wanted) {
            (Ok(running), true) => {
                *slot = Slot::Running(Box::new(running));
                Ok(())
            }
            (Ok(running), false) => {
                drop(slot);
                running.stop_now();
                Err(STOPPED_WHILE_STARTING.to_owned())
            }
            (Err(why), true) => {
                *slot = Slot::Failed;
                Err(why)
            }
            (Err(why), false) => Err(why),
        }
    }

    /// Stops the shop: its load first, then its services (each drains and
    /// flushes) and its collector; a start under way is called off. What
    /// went wrong, if anything did.
    pub async fn stop(&self) -> Vec<String> {
        let taken = std::mem::take(&mut *lock(&self.slot));
        match taken {
            Slot::Running(running) => (*running).stop().await,
            Slot::Starting { task, .. } => {
                task.abort();
                // Called off, what had started has been stopped.
                let _ = task.await;
                Vec::new()
            }
            Slot::Stopped | Slot::Failed => Vec::new(),
        }
    }

    /// [`LearnerShop::stop`] without waiting for the load's end: for a
    /// room dropped without being stopped.
    pub fn stop_now(&self) {
        let taken = std::mem::take(&mut *lock(&self.slot));
        match taken {
            Slot::Running(running) => {
                (*running).stop_now();
            }
            // Its programs stop as the start is dropped.
            Slot::Starting { task, .. } => task.abort(),
            Slot::Stopped | Slot::Failed => {}
        }
    }
}

/// Said to a join that waited for a start the room's stop called off.
const STOPPED_WHILE_STARTING: &str = "the room stopped while your shop was starting";

/// Said to a join while the room stops.
const ROOM_STOPPING: &str = "the room is stopping: the instructor will start it again";

/// Said to a join whose shop did not start: why is the instructor's to
/// read (it names the room's machine's ports and folders).
const START_FAILED: &str = "its start failed: the instructor's terminal says why";

/// The start numbered `number` of a shop as `launch` says, kept in
/// `shop`, told on `tell`.
async fn start(shop: Arc<LearnerShop>, launch: Launch, number: u64, tell: watch::Sender<Outcome>) {
    let outcome = Running::start(&launch, number).await.map_err(|err| {
        println!("{}'s shop did not start: {err:#}", launch.name);
        START_FAILED.to_owned()
    });
    if outcome.is_ok() {
        println!(
            "{}'s shop runs, under load from {} customers.",
            launch.name, launch.customers
        );
    }
    let told = shop.settle(outcome);
    tell.send_replace(Some(told));
}

/// A learner's shop, running.
struct Running {
    /// Which start of the learner's shop this is.
    start: u64,
    scenario: Scenario,
    stop_load: oneshot::Sender<()>,
    load: JoinHandle<Report>,
    recorder: JoinHandle<()>,
}

impl Running {
    /// The learner's collector and shop started with their problems
    /// planted, on their ports, with databases of their own, then the load
    /// and the recordings: the start numbered `start`.
    async fn start(launch: &Launch, start: u64) -> anyhow::Result<Self> {
        let logs = launch.folder.join("logs");
        let databases = launch.folder.join("databases");
        std::fs::create_dir_all(&databases)?;
        // The services run from the workspace's root: their databases'
        // folder is named whole.
        let databases = std::fs::canonicalize(databases)?;
        let surroundings = Surroundings {
            bin_dir: &launch.bin_dir,
            logs: &logs,
            databases: Some(&databases),
            healthy_within: HEALTHY_WITHIN,
        };
        let scenario = Scenario::start_built(&launch.problems, launch.ports, &surroundings).await?;
        let (stop_load, stopped) = oneshot::channel::<()>();
        let load = scenario.load_in_background(launch.customers, UNTIL_STOPPED, async move {
            // Told, or the sender gone: either way, the load ends.
            let _ = stopped.await;
        });
        let recorder = tokio::spawn(recording::keep_recording(
            scenario.collector.ui_url().to_owned(),
            launch.folder.join("recordings"),
            collector_client::now_us(),
        ));
        Ok(Self {
            start,
            scenario,
            stop_load,
            load,
            recorder,
        })
    }

    /// The load stopped (its workers finish their requests), then the
    /// shop and the collector, off the async threads.
    async fn stop(self) -> Vec<String> {
        let Running {
            scenario,
            stop_load,
            load,
            recorder,
            ..
        } = self;
        let _ = stop_load.send(());
        let _ = load.await;
        recorder.abort();
        tokio::task::spawn_blocking(move || stop_scenario(scenario))
            .await
            .unwrap_or_else(|err| vec![format!("shop could not be stopped: {err}")])
    }

    /// Everything stopped at once, the load cut short.
    fn stop_now(self) -> Vec<String> {
        self.load.abort();
        self.recorder.abort();
        stop_scenario(self.scenario)
    }
}

/// Stops the shop as the drill does (each service drains its requests and
/// flushes its spans), then the collector: what went wrong, if anything
/// did. A service that exited with an error is not named: it says which
/// problem it had (a service that dropped spans exits so), and its log
/// keeps that.
fn stop_scenario(scenario: Scenario) -> Vec<String> {
    let Scenario {
        collector, shop, ..
    } = scenario;
    let mut trouble: Vec<String> = shop
        .stop_and_confirm(demo::stop_grace())
        .into_iter()
        .filter(|stopped| !matches!(stopped.ended, Ended::Exited(_)))
        .map(|stopped| format!("{} {}", stopped.name, stopped.ended))
        .collect();
    trouble.extend(collector.stop());
    trouble
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::room::plan;

    #[tokio::test]
    async fn no_shop_starts_while_the_room_stops() {
        let shop = Arc::new(LearnerShop::default());
        let launch = Launch {
            name: "alice".to_owned(),
            problems: vec![Problem::NPlusOne],
            ports: plan::shop_ports(0),
            bin_dir: PathBuf::from("nowhere"),
            folder: PathBuf::from("nowhere"),
            customers: 1,
        };
        let refused = shop
            .ensure_running(launch, &AtomicBool::new(true))
            .await
            .unwrap_err();
        assert!(refused.contains("the room is stopping"), "{refused}");
        assert_eq!(shop.state(), ShopState::Stopped, "nothing was started");
    }
}

//! A learner's shop in a room, and its life: stopped, starting, running
//! (the collector and the shop with the learner's problems planted, the
//! demo's load, their orders' traces saved every minute) or failed to
//! start. One start at a time for each learner, whoever asks for it: two
//! joins under one name wait for the same start, and never start two shops
//! on the same ports; two learners' starts run side by side.

use std::path::PathBuf;
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

    /// Once the shop runs: at once if it does, after the start under way
    /// if one is, else after a start as `launch` says (stopped, or failed
    /// before). Why not, if it does not.
    pub async fn ensure_running(self: &Arc<Self>, launch: Launch) -> Result<(), String> {
        let mut started = {
            let mut slot = lock(&self.slot);
            match &*slot {
                Slot::Running(_) => return Ok(()),
                Slot::Starting { started, .. } => started.clone(),
                Slot::Stopped | Slot::Failed => {
                    let (tell, started) = watch::channel(None);
                    let task = tokio::spawn(start(self.clone(), launch, tell));
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

/// The start of a shop as `launch` says, kept in `shop`, told on `tell`.
async fn start(shop: Arc<LearnerShop>, launch: Launch, tell: watch::Sender<Outcome>) {
    let outcome = Running::start(&launch)
        .await
        .map_err(|err| format!("{err:#}"));
    match &outcome {
        Ok(_) => println!(
            "{}'s shop runs, under load from {} customers.",
            launch.name, launch.customers
        ),
        Err(why) => println!("{}'s shop did not start: {why}", launch.name),
    }
    let told = shop.settle(outcome);
    tell.send_replace(Some(told));
}

/// A learner's shop, running.
struct Running {
    scenario: Scenario,
    stop_load: oneshot::Sender<()>,
    load: JoinHandle<Report>,
    recorder: JoinHandle<()>,
}

impl Running {
    /// The learner's collector and shop started with their problems
    /// planted, on their ports, with databases of their own, then the load
    /// and the recordings.
    async fn start(launch: &Launch) -> anyhow::Result<Self> {
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

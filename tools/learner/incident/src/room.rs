//! A room: the instructor's machine runs one drill per learner (`just
//! incident --room`), so that no learner's machine holds what was drawn.
//! Each learner joins over HTTP (`just incident join`) and gets a key, a
//! shop and a collector of their own on the instructor's machine (on
//! loopback), and a port of their own on the room's address that shows
//! them that collector, and nothing else. Answers, hints and the status go
//! to the room, which judges them as the drill of one's own does
//! ([`crate::progress`]), on that learner's own collector and services.
//!
//! This file is the room's state: its secrets, its learners, and its stop.
//! Around it: what it is started with ([`settings`]), its secrets
//! ([`secret`]), learners' names ([`name`]), where each learner's programs
//! listen ([`plan`]), a learner ([`learner`]) and their shop's life
//! ([`shop`]), what is saved where ([`store`]), who a request comes from
//! ([`credential`]) and what it is refused with ([`refusal`]), the room's
//! routes ([`server`]) and page ([`page`]) and table ([`table`]), each
//! learner's port onto their collector ([`proxy`]), the room started and
//! stopped ([`running`]), the instructor's command ([`instructor`]), what
//! the two sides send each other ([`wire`]), and the learner's side: what
//! their machine keeps ([`ticket`]) and their commands ([`join`]).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use axum::http::StatusCode;
use tokio::sync::watch;

use crate::draw;
use crate::state::{self, Drill};

use self::credential::Holder;
use self::learner::Learner;
use self::refusal::Refusal;
use self::shop::Launch;
use self::store::{LearnerFile, RoomFile};
use self::table::{Row, Table};

pub mod credential;
pub mod instructor;
pub mod join;
pub mod learner;
pub mod name;
pub mod page;
pub mod plan;
pub mod proxy;
pub mod refusal;
pub mod running;
pub mod secret;
pub mod server;
pub mod settings;
pub mod shop;
pub mod store;
pub mod table;
pub mod ticket;
pub mod wire;

pub use running::{RoomHandle, serve};
pub use settings::Settings;

/// How long each learner's port has to close once the room stops: a
/// browser's open connection is not waited for longer.
const PROXY_CLOSES_WITHIN: Duration = Duration::from_secs(5);

/// The room: its secrets, its learners, and whether it is stopping.
pub struct Room {
    settings: Settings,
    /// What learners join with, and all it does: it is printed for the
    /// whole class.
    join_token: String,
    /// What shows the room's page and every learner's collector: the
    /// instructor's alone.
    instructor_key: String,
    /// Where the room's own server listens; each learner's port is on the
    /// same address.
    address: SocketAddr,
    learners: Mutex<BTreeMap<String, Arc<Learner>>>,
    stopping: AtomicBool,
    /// Set once the room stops: every server of the room watches it.
    shutdown: watch::Sender<bool>,
}

impl Room {
    /// The room kept in `settings.folder` (its secrets and every learner
    /// who joined it, their shops stopped), or a new one; its server
    /// listens at `address`. A join token given in `settings` replaces the
    /// saved one; the instructor's key is the saved one, or a new one.
    pub fn open(settings: Settings, address: SocketAddr) -> anyhow::Result<Arc<Self>> {
        let folder = &settings.folder;
        let saved = store::load_room(folder)?;
        let join_token = match (&settings.token, &saved) {
            (Some(given), _) => {
                secret::check_given(given).map_err(anyhow::Error::msg)?;
                given.clone()
            }
            (None, Some(saved)) => saved.join_token.clone(),
            (None, None) => secret::fresh(),
        };
        let instructor_key = saved.map_or_else(secret::fresh, |saved| saved.instructor_key);
        store::save_room(
            folder,
            &RoomFile {
                join_token: join_token.clone(),
                instructor_key: instructor_key.clone(),
            },
        )?;
        let learners = store::load_learners(folder)?
            .into_iter()
            .map(|file| (file.name.clone(), Arc::new(Learner::new(file, folder))))
            .collect();
        let (shutdown, _) = watch::channel(false);
        Ok(Arc::new(Self {
            settings,
            join_token,
            instructor_key,
            address,
            learners: Mutex::new(learners),
            stopping: AtomicBool::new(false),
            shutdown,
        }))
    }

    /// The room's join token: what learners join it with, and nothing
    /// else.
    pub fn join_token(&self) -> &str {
        &self.join_token
    }

    /// The instructor's key: what shows the room's page and every
    /// learner's collector.
    pub fn instructor_key(&self) -> &str {
        &self.instructor_key
    }

    /// Where the room's own server listens.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Who holds `secret`: the instructor (their key), whoever was given
    /// the join token, or a learner (their key); `None` when nobody does.
    pub fn holder_of(&self, secret: &str) -> Option<Holder> {
        if secret::same(&self.instructor_key, secret) {
            return Some(Holder::Instructor);
        }
        if secret::same(&self.join_token, secret) {
            return Some(Holder::Joiner);
        }
        lock(&self.learners)
            .values()
            .find(|learner| learner.holds(secret))
            .map(|learner| Holder::Learner(learner.name.clone()))
    }

    /// Every learner, in the order they joined.
    pub fn learners(&self) -> Vec<Arc<Learner>> {
        let mut learners: Vec<Arc<Learner>> = lock(&self.learners).values().cloned().collect();
        learners.sort_by_key(|learner| learner.number);
        learners
    }

    /// The learner called `name`, if one joined.
    pub fn learner(&self, name: &str) -> Option<Arc<Learner>> {
        lock(&self.learners).get(name).cloned()
    }

    /// The learner called `name` (already valid), and whether they are
    /// new: the one who joined under that name, when `key` is theirs, or
    /// a new learner with a key, a seed and ports of their own, saved,
    /// unless the room is full or stopping. A name taken, without its
    /// key, is refused (409), and the key is never told. No shop is
    /// started here.
    pub fn admit(&self, name: &str, key: Option<&str>) -> Result<(Arc<Learner>, bool), Refusal> {
        let learner = {
            let mut learners = lock(&self.learners);
            // Read under the lock [`Room::stop`] lists the learners under:
            // a learner admitted before the stop is one it stops.
            if self.is_stopping() {
                return Err(stopping());
            }
            if let Some(learner) = learners.get(name) {
                return match key.is_some_and(|key| learner.holds(key)) {
                    true => Ok((learner.clone(), false)),
                    false => Err(taken(name)),
                };
            }
            let learner = self.newcomer(name, &learners)?;
            learners.insert(name.to_owned(), learner.clone());
            learner
        };
        // Saved outside the lock, so that no request waits on the disk
        // for another's; a learner who cannot be saved is not kept.
        if let Err(err) = learner.save() {
            lock(&self.learners).remove(name);
            return Err(Refusal::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("the room cannot save a new learner: {err:#}"),
            ));
        }
        Ok((learner, true))
    }

    /// A new learner called `name`, with a key, a seed and ports of their
    /// own, beside `learners`, unless the room is full.
    fn newcomer(
        &self,
        name: &str,
        learners: &BTreeMap<String, Arc<Learner>>,
    ) -> Result<Arc<Learner>, Refusal> {
        let most = usize::from(self.settings.max_learners);
        let number = learners
            .values()
            .map(|learner| learner.number + 1)
            .max()
            .unwrap_or(0);
        if learners.len() >= most || number >= plan::MOST_LEARNERS {
            return Err(Refusal::new(
                StatusCode::CONFLICT,
                format!(
                    "the room is full: it takes {most} learners, and {} have joined",
                    learners.len()
                ),
            ));
        }
        let seed = match self.settings.seed {
            Some(seed) => seed.wrapping_add(u64::from(number)),
            None => draw::random_seed(),
        };
        let drawn = draw::draw(seed, self.settings.problems);
        let ports = plan::shop_ports(number);
        let drill = Drill::new(
            seed,
            &drawn,
            state::now_secs(),
            ports.collector_ui,
            ports.base,
        );
        let file = LearnerFile {
            name: name.to_owned(),
            key: secret::fresh(),
            number,
            drill,
        };
        Ok(Arc::new(Learner::new(file, &self.settings.folder)))
    }

    /// What `learner`'s shop is started with.
    pub fn launch_for(&self, learner: &Learner) -> Launch {
        Launch {
            name: learner.name.clone(),
            problems: learner.drill().problems(),
            ports: learner.ports(),
            bin_dir: self.settings.bin_dir.clone(),
            folder: learner.folder().to_path_buf(),
            customers: self.settings.customers,
        }
    }

    /// Once `learner`'s shop runs (started, or started again, as
    /// [`shop::LearnerShop::ensure_running`] says); refused while the room
    /// stops. Why not, if it does not.
    pub async fn ensure_shop(&self, learner: &Learner) -> Result<(), String> {
        learner
            .shop()
            .ensure_running(self.launch_for(learner), &self.stopping)
            .await
    }

    /// The port, on the room's address, that shows `learner`'s collector.
    pub fn proxy_port(&self, learner: &Learner) -> u16 {
        plan::proxy_port(self.address.port(), learner.number)
    }

    /// Opens `learner`'s port onto their collector, unless it is open.
    pub fn open_proxy(self: &Arc<Self>, learner: &Arc<Learner>) -> anyhow::Result<()> {
        let address = SocketAddr::new(self.address.ip(), self.proxy_port(learner));
        learner.serve_proxy(|| proxy::open(self, learner, address))
    }

    /// Whether the room is stopping: it admits nobody, and starts no shop.
    pub fn is_stopping(&self) -> bool {
        self.stopping.load(Ordering::SeqCst)
    }

    /// Completes once the room stops (or is gone): what each of its
    /// servers shuts down on.
    pub fn stopped(&self) -> impl Future<Output = ()> + Send + use<> {
        let mut shutdown = self.shutdown.subscribe();
        async move {
            while !*shutdown.borrow_and_update() {
                if shutdown.changed().await.is_err() {
                    return;
                }
            }
        }
    }

    /// One row per learner, at `now`: counts and scores, never a problem.
    pub fn table(&self, now: u64) -> Table {
        let learners = self
            .learners()
            .iter()
            .map(|learner| Row::of(&learner.name, &learner.drill(), learner.shop().state(), now))
            .collect();
        Table { learners }
    }

    /// Stops the room: nobody more is admitted, its servers stop taking
    /// requests, and every learner's load, shop and collector stop, all at
    /// once; the final table. Every learner's state is saved already.
    pub async fn stop(&self) -> Table {
        self.stopping.store(true, Ordering::SeqCst);
        self.shutdown.send_replace(true);
        let learners = self.learners();
        let stops: Vec<_> = learners
            .iter()
            .map(|learner| {
                let learner = learner.clone();
                tokio::spawn(async move {
                    let trouble = learner.shop().stop().await;
                    (learner.name.clone(), trouble)
                })
            })
            .collect();
        for stop in stops {
            if let Ok((name, trouble)) = stop.await {
                for line in trouble {
                    println!("warning: {name}'s {line}");
                }
            }
        }
        for learner in &learners {
            if let Some(mut proxy) = learner.take_proxy()
                && tokio::time::timeout(PROXY_CLOSES_WITHIN, &mut proxy)
                    .await
                    .is_err()
            {
                proxy.abort();
                // Once the aborted server is gone, so is its port.
                let _ = proxy.await;
            }
        }
        self.table(state::now_secs())
    }

    /// [`Room::stop`] at once, without waiting on anything but the
    /// programs themselves: for a room dropped without being stopped (a
    /// test that failed), so that no program outlives it.
    pub fn stop_now(&self) {
        self.stopping.store(true, Ordering::SeqCst);
        self.shutdown.send_replace(true);
        for learner in self.learners() {
            learner.shop().stop_now();
            if let Some(proxy) = learner.take_proxy() {
                proxy.abort();
            }
        }
    }
}

/// What a join under `name`, taken, without its key is told: never the
/// key.
fn taken(name: &str) -> Refusal {
    Refusal::new(
        StatusCode::CONFLICT,
        format!(
            "the name {name} is taken: joining again under it takes {name}'s key, which              `just incident join` sends from target/incident/room.json on the machine that              joined; choose another name, or ask the instructor for that key"
        ),
    )
}

/// What a request is told while the room stops.
fn stopping() -> Refusal {
    Refusal::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "the room is stopping: the instructor will start it again",
    )
}

/// `mutex`, locked, whether or not a thread panicked while holding it:
/// the room's state stays readable, and a request never panics on it.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn room_settings(folder: &Path, token: Option<&str>) -> Settings {
        Settings {
            listen: settings::DEFAULT_LISTEN,
            max_learners: 2,
            customers: 1,
            seed: Some(40),
            problems: Some(2),
            token: token.map(str::to_owned),
            folder: folder.to_path_buf(),
            bin_dir: folder.join("bin"),
        }
    }

    #[test]
    fn a_learner_is_admitted_once_each_with_a_drill_and_a_key_and_all_come_back() {
        let folder = std::env::temp_dir().join(format!("incident-room-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&folder);
        let address: SocketAddr = "127.0.0.1:7900".parse().unwrap();
        let token = "room-token-0123456789";
        let room = Room::open(room_settings(&folder, Some(token)), address).unwrap();
        assert_eq!(room.join_token(), token);
        assert_ne!(room.instructor_key(), token, "two secrets");

        let (alice, new) = room.admit("alice", None).unwrap();
        assert!(new);
        let Err(taken) = room.admit("alice", None) else {
            panic!("alice's name was given again without her key");
        };
        assert_eq!(taken.status, StatusCode::CONFLICT);
        assert!(
            taken.reason.contains("the name alice is taken"),
            "{taken:?}"
        );
        assert!(!taken.reason.contains(alice.key()), "{taken:?}");
        let (again, new) = room.admit("alice", Some(alice.key())).unwrap();
        assert!(!new && Arc::ptr_eq(&alice, &again), "the same learner");
        let (bob, _) = room.admit("bob", None).unwrap();
        let Err(elses) = room.admit("bob", Some(alice.key())) else {
            panic!("bob's name was given to alice's key");
        };
        assert_eq!(elses.status, StatusCode::CONFLICT);
        assert_eq!((alice.number, bob.number), (0, 1));
        assert_eq!((alice.drill().seed, bob.drill().seed), (40, 41));
        assert_eq!(alice.drill().drawn.len(), 2);
        assert_eq!(alice.ports(), plan::shop_ports(0));
        assert_eq!(room.proxy_port(&bob), 7902);
        assert_ne!(alice.key(), bob.key());
        let Err(full) = room.admit("carol", None) else {
            panic!("carol was admitted to a full room");
        };
        assert_eq!(full.status, StatusCode::CONFLICT);
        assert!(full.reason.contains("the room is full"), "{full:?}");

        assert_eq!(
            room.holder_of(room.instructor_key()),
            Some(Holder::Instructor)
        );
        assert_eq!(room.holder_of(token), Some(Holder::Joiner));
        assert_eq!(
            room.holder_of(bob.key()),
            Some(Holder::Learner("bob".to_owned()))
        );
        assert_eq!(room.holder_of("nobody's secret"), None);
        let table = room.table(state::now_secs());
        let names: Vec<&str> = table.learners.iter().map(|row| row.name.as_str()).collect();
        assert_eq!(names, ["alice", "bob"]);

        let reopened = Room::open(room_settings(&folder, None), address).unwrap();
        assert_eq!(reopened.join_token(), token, "the join token is kept");
        assert_eq!(
            reopened.instructor_key(),
            room.instructor_key(),
            "the instructor's key is kept"
        );
        let back = reopened.learner("bob").expect("bob is back");
        assert_eq!((back.key(), back.drill()), (bob.key(), bob.drill()));
        assert_eq!(reopened.learners().len(), 2);
        std::fs::remove_dir_all(&folder).unwrap();
    }

    #[test]
    fn two_joins_under_one_new_name_at_once_make_one_learner() {
        let folder =
            std::env::temp_dir().join(format!("incident-room-race-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&folder);
        let address: SocketAddr = "127.0.0.1:7900".parse().unwrap();
        let room = Room::open(room_settings(&folder, None), address).unwrap();
        let joins: Vec<_> = (0..2)
            .map(|_| {
                let room = room.clone();
                std::thread::spawn(move || room.admit("dora", None))
            })
            .collect();
        let outcomes: Vec<_> = joins.into_iter().map(|join| join.join().unwrap()).collect();
        let admitted = outcomes.iter().filter(|outcome| outcome.is_ok()).count();
        assert_eq!(admitted, 1, "one join admits dora, the other is refused");
        let refused = outcomes.iter().find_map(|outcome| outcome.as_ref().err());
        assert_eq!(
            refused.map(|refusal| refusal.status),
            Some(StatusCode::CONFLICT)
        );
        assert_eq!(room.learners().len(), 1);
        std::fs::remove_dir_all(&folder).unwrap();
    }

    #[test]
    fn a_stopping_room_admits_nobody() {
        let folder =
            std::env::temp_dir().join(format!("incident-room-stopping-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&folder);
        let address: SocketAddr = "127.0.0.1:7900".parse().unwrap();
        let room = Room::open(room_settings(&folder, None), address).unwrap();
        room.stop_now();
        let Err(refused) = room.admit("erin", None) else {
            panic!("a stopping room admitted erin");
        };
        assert_eq!(refused.status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(
            refused.reason.contains("the room is stopping"),
            "{refused:?}"
        );
        std::fs::remove_dir_all(&folder).unwrap();
    }
}

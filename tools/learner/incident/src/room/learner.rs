//! A learner of a room: their name, key and number, their drill (saved
//! after every change), their shop ([`super::shop`]) and their port onto
//! its collector ([`super::proxy`]).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use tokio::task::JoinHandle;

use super::shop::LearnerShop;
use super::store::{self, LearnerFile};
use super::{lock, plan, secret};
use crate::scenario::Ports;
use crate::state::Drill;

/// A learner, as the room holds them.
pub struct Learner {
    pub name: String,
    key: String,
    /// In the order they joined, from 0.
    pub number: u16,
    /// Their files: their state, their programs' logs, their databases,
    /// their recordings.
    folder: PathBuf,
    /// Their drill as saved: read by the room's table at any time.
    drill: Mutex<Drill>,
    /// Held by whatever changes the drill (an answer, which reads its
    /// evidence first, or a hint), one at a time, so that none is lost.
    turn: tokio::sync::Mutex<()>,
    shop: Arc<LearnerShop>,
    /// Their port onto their collector, once open.
    proxy: Mutex<Option<JoinHandle<()>>>,
}

impl Learner {
    /// The learner `file` keeps, in the room's `folder`, with no shop
    /// running yet.
    pub fn new(file: LearnerFile, folder: &Path) -> Self {
        Self {
            folder: store::learner_folder(folder, &file.name),
            name: file.name,
            key: file.key,
            number: file.number,
            drill: Mutex::new(file.drill),
            turn: tokio::sync::Mutex::new(()),
            shop: Arc::new(LearnerShop::default()),
            proxy: Mutex::new(None),
        }
    }

    /// Whether `secret` is this learner's key.
    pub fn holds(&self, secret: &str) -> bool {
        secret::same(&self.key, secret)
    }

    pub fn key(&self) -> &str {
        &self.key
    }

    pub fn folder(&self) -> &Path {
        &self.folder
    }

    /// Where their shop and collector listen, on loopback.
    pub fn ports(&self) -> Ports {
        plan::shop_ports(self.number)
    }

    /// Their drill, as it is now.
    pub fn drill(&self) -> Drill {
        lock(&self.drill).clone()
    }

    /// The right to change the drill, once whoever holds it is done.
    pub async fn turn(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.turn.lock().await
    }

    /// Keeps `drill` as theirs, saved first, if it differs from the one
    /// kept; whether it did. Called with the [`Learner::turn`] held.
    pub fn keep(&self, drill: Drill) -> anyhow::Result<bool> {
        let mut kept = lock(&self.drill);
        if *kept == drill {
            return Ok(false);
        }
        store::save_learner(&self.folder, &self.file(&drill))?;
        *kept = drill;
        Ok(true)
    }

    /// Saves what the room keeps of them.
    pub fn save(&self) -> anyhow::Result<()> {
        let drill = lock(&self.drill);
        store::save_learner(&self.folder, &self.file(&drill))
    }

    fn file(&self, drill: &Drill) -> LearnerFile {
        LearnerFile {
            name: self.name.clone(),
            key: self.key.clone(),
            number: self.number,
            drill: drill.clone(),
        }
    }

    pub fn shop(&self) -> &Arc<LearnerShop> {
        &self.shop
    }

    /// Opens their port onto their collector with `open`, unless it is
    /// open already.
    pub fn serve_proxy(
        &self,
        open: impl FnOnce() -> anyhow::Result<JoinHandle<()>>,
    ) -> anyhow::Result<()> {
        let mut proxy = lock(&self.proxy);
        if proxy.is_none() {
            *proxy = Some(open()?);
        }
        Ok(())
    }

    /// Their port's server, taken to be stopped.
    pub fn take_proxy(&self) -> Option<JoinHandle<()>> {
        lock(&self.proxy).take()
    }
}

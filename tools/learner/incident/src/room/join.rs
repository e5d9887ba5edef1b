//! The learner's side of a room: `just incident join URL --token T --name
//! N` joins it and keeps the ticket ([`super::ticket`]); from then on
//! `answer`, `hint` and `status` are sent to the room, with the learner's
//! key, and print what it says; `leave` forgets it. Every call has a
//! deadline: a room that does not answer is said so, with its address,
//! within seconds, never waited for in silence.

use std::path::Path;
use std::time::Duration;

use anyhow::{Context, bail};
use reqwest::RequestBuilder;
use serde::de::DeserializeOwned;

use super::name;
use super::ticket::Ticket;
use super::wire::{AnswerForm, JoinRequest, Joined, Said};
use crate::answer::Answer;

/// How long the room has to take a connection.
const CONNECT_WITHIN: Duration = Duration::from_secs(5);
/// How long a hint or the status may take.
const TOLD_WITHIN: Duration = Duration::from_secs(15);
/// How long an answer may take: the room reads its evidence first.
const JUDGED_WITHIN: Duration = Duration::from_secs(30);
/// How long a join may take: the room starts the learner's shop, a
/// minute or more when several learners join at once.
const JOINED_WITHIN: Duration = Duration::from_secs(5 * 60);

/// `just incident join`: join a room.
#[derive(clap::Args, Clone, Debug, PartialEq, Eq)]
pub struct Join {
    /// The room's address, as the instructor gives it: `http://HOST:7900`.
    pub url: String,
    /// The room's join token, as the instructor gives it.
    #[arg(long, env = "ROOM_TOKEN", hide_env_values = true)]
    pub token: String,
    /// Your name in the room: 1 to 32 characters of a-z, 0-9 and '-'.
    /// Joining again under it, from the machine that joined (it keeps
    /// your key), brings your drill back.
    #[arg(long)]
    pub name: String,
    /// Your key, to join again under your name from a machine that does
    /// not keep it (the instructor reads it in the room's state); the
    /// machine that joined sends it by itself.
    #[arg(long)]
    pub key: Option<String>,
}

/// A room's routes, as a learner's commands call them.
#[derive(Clone, Debug)]
pub struct RoomClient {
    http: reqwest::Client,
    /// Without a trailing slash.
    url: String,
}

impl RoomClient {
    /// The room at `url` (`http://HOST:PORT`).
    pub fn new(url: &str) -> anyhow::Result<Self> {
        let url = url.trim().trim_end_matches('/').to_owned();
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            bail!(
                "{url:?} is not a room's address: the instructor gives one such as http://HOST:7900"
            );
        }
        let http = reqwest::Client::builder()
            .connect_timeout(CONNECT_WITHIN)
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(Self { http, url })
    }

    /// Where the room is.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Joins as `name` with the room's join `token` (and, to join again,
    /// the `key` given when `name` joined): the learner's key and where
    /// their collector is, once their shop runs.
    pub async fn join(&self, token: &str, name: &str, key: Option<&str>) -> anyhow::Result<Joined> {
        let request = self
            .http
            .post(format!("{}/join", self.url))
            .bearer_auth(token)
            .timeout(JOINED_WITHIN)
            .json(&JoinRequest {
                name: name.to_owned(),
                key: key.map(str::to_owned),
            });
        self.send(request).await
    }

    /// `name`'s answer `form`, judged by the room.
    pub async fn answer(&self, name: &str, key: &str, form: &AnswerForm) -> anyhow::Result<Said> {
        let request = self
            .http
            .post(self.learner_url(name, "answer"))
            .bearer_auth(key)
            .timeout(JUDGED_WITHIN)
            .json(form);
        self.send(request).await
    }

    /// `name`'s next hint.
    pub async fn hint(&self, name: &str, key: &str) -> anyhow::Result<Said> {
        let request = self
            .http
            .post(self.learner_url(name, "hint"))
            .bearer_auth(key)
            .timeout(TOLD_WITHIN);
        self.send(request).await
    }

    /// `name`'s status.
    pub async fn status(&self, name: &str, key: &str) -> anyhow::Result<Said> {
        let request = self
            .http
            .get(self.learner_url(name, "status"))
            .bearer_auth(key)
            .timeout(TOLD_WITHIN);
        self.send(request).await
    }

    fn learner_url(&self, name: &str, what: &str) -> String {
        format!("{}/learners/{name}/{what}", self.url)
    }

    /// Sends `request`; the room's answer as `T`, or what went wrong,
    /// with the room's own reason when it refused.
    async fn send<T: DeserializeOwned>(&self, request: RequestBuilder) -> anyhow::Result<T> {
        let answer = match request.send().await {
            Ok(answer) => answer,
            Err(err) if err.is_timeout() => bail!(
                "the room at {} did not answer in time ({err}): is it still running?",
                self.url
            ),
            Err(err) => bail!(
                "the room at {} does not answer ({err}): is the address right, and is the room running?",
                self.url
            ),
        };
        let status = answer.status();
        if !status.is_success() {
            let reason = answer.text().await.unwrap_or_default();
            bail!("the room refused ({status}): {}", reason.trim());
        }
        answer
            .json::<T>()
            .await
            .with_context(|| format!("{} did not answer as a room does", self.url))
    }
}

/// `just incident join`: joins, keeps the ticket, says where everything
/// is. Joining the same room again under the same name sends the key
/// the ticket keeps, which the room asks for before it gives the name
/// back.
pub async fn join(root: &Path, given: &Join) -> anyhow::Result<()> {
    name::check(&given.name).map_err(anyhow::Error::msg)?;
    let client = RoomClient::new(&given.url)?;
    // A ticket that cannot be read keeps no key worth sending.
    let kept = given.key.clone().or_else(|| {
        Ticket::load(root)
            .ok()
            .flatten()
            .filter(|ticket| ticket.url == client.url() && ticket.name == given.name)
            .map(|ticket| ticket.key)
    });
    println!(
        "Joining the room at {} as {}: it starts a shop of your own on its machine \
         (a minute, more when many join at once)…",
        client.url(),
        given.name
    );
    let joined = client
        .join(&given.token, &given.name, kept.as_deref())
        .await?;
    let ticket = Ticket {
        url: client.url().to_owned(),
        name: joined.name.clone(),
        key: joined.key.clone(),
        collector: joined.collector.clone(),
    };
    ticket.save(root)?;
    print!("{}", welcome(&joined));
    Ok(())
}

/// What a learner who joined is told: where their collector and metrics
/// are, and what their commands now do.
fn welcome(joined: &Joined) -> String {
    let key = &joined.key;
    let mut text = format!(
        "\nJoined as {}: your shop runs on the room's machine, under load, with problems \
         planted. Nothing on this machine says which.\n\n\
         \x20 your collector, in a browser   {}/?key={key}\n\
         \x20 for the workshop's tools       export COLLECTOR_URL={}\n\
         \x20                                then `just trace --slowest`, `just crisp`\n\
         \x20 each service's /metrics (in the browser once the collector's page has opened; \
         with curl, `curl -u learner:{key} URL`):\n",
        joined.name,
        joined.collector,
        with_key(&joined.collector, key)
    );
    for metrics in &joined.metrics {
        text.push_str(&format!("    {:<10} {}\n", metrics.service, metrics.url));
    }
    text.push_str(
        "\n`just incident answer …`, `hint` and `status` now go to the room, with your key \
         (kept in target/incident/room.json); `predict` and `fix` belong to a drill of your \
         own. `just incident leave` forgets the room.\n",
    );
    text
}

/// `url` with `key` as basic auth's password (any user), as the
/// workshop's tools send it.
pub fn with_key(url: &str, key: &str) -> String {
    for scheme in ["http://", "https://"] {
        if let Some(rest) = url.strip_prefix(scheme) {
            return format!("{scheme}learner:{key}@{rest}");
        }
    }
    url.to_owned()
}

/// `just incident answer …` in a room.
pub async fn answer(ticket: &Ticket, given: &Answer) -> anyhow::Result<()> {
    let said = RoomClient::new(&ticket.url)?
        .answer(&ticket.name, &ticket.key, &AnswerForm::of(given))
        .await?;
    println!("{}", said.message);
    Ok(())
}

/// `just incident hint` in a room.
pub async fn hint(ticket: &Ticket) -> anyhow::Result<()> {
    let said = RoomClient::new(&ticket.url)?
        .hint(&ticket.name, &ticket.key)
        .await?;
    println!("{}", said.message);
    Ok(())
}

/// `just incident status` in a room.
pub async fn status(ticket: &Ticket) -> anyhow::Result<()> {
    let said = RoomClient::new(&ticket.url)?
        .status(&ticket.name, &ticket.key)
        .await?;
    print!("{}", said.message);
    Ok(())
}

/// `just incident leave`: forgets the room joined.
pub fn leave(root: &Path) -> anyhow::Result<()> {
    match Ticket::forget(root)? {
        Some(ticket) => println!(
            "Left the room at {} (as {}): `answer`, `hint` and `status` are this machine's own \
             drill's again. Your drill stays in the room: joining again as {} brings it back.",
            ticket.url, ticket.name, ticket.name
        ),
        None => println!("Not in a room: nothing to leave."),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_room_nobody_listens_at_is_said_so_at_once() {
        let gone = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", gone.local_addr().unwrap());
        drop(gone);
        let room = RoomClient::new(&url).unwrap();
        let started = std::time::Instant::now();
        let err = room.status("alice", "k3y").await.unwrap_err().to_string();
        assert!(
            err.contains(&url) && err.contains("does not answer"),
            "{err}"
        );
        assert!(
            started.elapsed() < CONNECT_WITHIN,
            "{:?}",
            started.elapsed()
        );
    }

    #[tokio::test]
    async fn a_room_that_takes_the_call_and_never_answers_is_said_so_by_its_deadline() {
        // Connections are taken (the kernel's backlog) and never read.
        let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", silent.local_addr().unwrap());
        let room = RoomClient::new(&url).unwrap();
        let asked = room.status("alice", "k3y");
        let err = tokio::time::timeout(TOLD_WITHIN + Duration::from_secs(10), asked)
            .await
            .expect("the client's own deadline ends the wait")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(&url) && err.contains("did not answer in time"),
            "{err}"
        );
        drop(silent);
    }

    #[test]
    fn the_tools_reach_a_collector_with_the_key_as_a_password() {
        assert_eq!(
            with_key("http://10.0.0.5:7901", "k3y"),
            "http://learner:k3y@10.0.0.5:7901"
        );
        assert_eq!(
            with_key("https://room:7901", "k"),
            "https://learner:k@room:7901"
        );
        assert_eq!(with_key("room:7901", "k"), "room:7901");
    }

    #[test]
    fn a_learner_who_joined_is_told_where_their_collector_is() {
        let joined = Joined::new("alice", "k3y", "http://10.0.0.5:7901");
        let told = welcome(&joined);
        assert!(told.contains("http://10.0.0.5:7901/?key=k3y"), "{told}");
        assert!(
            told.contains("export COLLECTOR_URL=http://learner:k3y@10.0.0.5:7901"),
            "{told}"
        );
        assert!(
            told.contains("http://10.0.0.5:7901/services/payments/metrics"),
            "{told}"
        );
    }

    #[test]
    fn a_room_s_address_is_an_http_url() {
        assert!(RoomClient::new("10.0.0.5:7900").is_err());
        let client = RoomClient::new(" http://10.0.0.5:7900/ ").unwrap();
        assert_eq!(client.url(), "http://10.0.0.5:7900");
    }
}

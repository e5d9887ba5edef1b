use std::net::SocketAddr;

use clap::Parser;
use shop::Fixes;

/// The shop's inventory: seats left and reservations.
#[derive(Parser)]
struct Args {
    /// Address to listen on.
    #[arg(long, env = "LISTEN", default_value_t = shop::server::default_listen(inventory::DEFAULT_PORT))]
    listen: SocketAddr,
    /// Start every talk with this many seats instead of its room's capacity.
    #[arg(long, env = "SEATS_PER_TALK")]
    seats_per_talk: Option<u32>,
    #[command(flatten)]
    fixes: Fixes,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let telemetry = telemetry::init("inventory")?;
    shop::server::serve(
        "inventory",
        args.listen,
        inventory::app(args.fixes, args.seats_per_talk),
    )
    .await?;
    telemetry.shutdown();
    Ok(())
}

use std::net::SocketAddr;

use clap::Parser;
use shop::Fixes;

/// The shop's inventory: seats left and reservations.
#[derive(Parser)]
struct Args {
    /// Address to listen on.
    #[arg(long, env = "LISTEN", default_value_t = shop::server::default_listen(inventory::DEFAULT_PORT))]
    listen: SocketAddr,
    #[command(flatten)]
    fixes: Fixes,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let telemetry = telemetry::init("inventory")?;
    shop::server::serve("inventory", args.listen, inventory::app(args.fixes)).await?;
    telemetry.shutdown();
    Ok(())
}

use std::net::SocketAddr;

use clap::Parser;

/// Serves the W3C Trace Context harness's `POST /test` (see the crate docs).
#[derive(Parser)]
struct Args {
    #[arg(long, env = "LISTEN", default_value = "127.0.0.1:5000")]
    listen: SocketAddr,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let telemetry = telemetry::init("w3c-test-service")?;
    shop::server::serve("w3c-test-service", args.listen, w3c_test_service::app()).await?;
    telemetry.shutdown().confirm()?;
    Ok(())
}

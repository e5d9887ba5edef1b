use std::net::SocketAddr;
use std::time::Duration;

use clap::Parser;
use payments::Processor;
use shop::Fixes;

/// The shop's payments: card charges against a flaky processor.
#[derive(Parser)]
struct Args {
    /// Address to listen on.
    #[arg(long, env = "LISTEN", default_value_t = shop::server::default_listen(payments::DEFAULT_PORT))]
    listen: SocketAddr,
    /// Charges the processor handles at once; more are refused with 503.
    #[arg(long, env = "PROCESSOR_CAPACITY", default_value_t = Processor::default().capacity)]
    capacity: usize,
    /// Fraction of charges that fail at random with 503 (0 to 1).
    #[arg(long, env = "FAILURE_RATE", default_value_t = Processor::default().failure_rate)]
    failure_rate: f64,
    /// Milliseconds one charge takes.
    #[arg(long, env = "PROCESSOR_LATENCY_MS", default_value_t = 3)]
    latency_ms: u64,
    #[command(flatten)]
    fixes: Fixes,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let telemetry = telemetry::init("payments")?;
    let processor = Processor {
        capacity: args.capacity,
        failure_rate: args.failure_rate.clamp(0.0, 1.0),
        latency: Duration::from_millis(args.latency_ms),
    };
    shop::server::serve(
        "payments",
        args.listen,
        payments::app(processor, args.fixes),
    )
    .await?;
    telemetry.shutdown().confirm()?;
    Ok(())
}

//! Sensor readings and the business of summarizing them: given, do not
//! change. The grader times this same `fold`, with no telemetry around it,
//! as the baseline your instrumented loop is compared with.

/// Readings above this are anomalies, worth a warning each.
pub const LIMIT: f64 = 90.0;

/// One sensor reading, as it arrives.
#[derive(Clone, Debug, PartialEq)]
pub struct Reading {
    pub sensor: String,
    pub celsius: f64,
    /// Everything else the sensor sent: long, and rarely looked at.
    pub raw_payload: Vec<u8>,
}

/// What a batch of readings comes to.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Summary {
    pub count: u64,
    pub anomalies: u64,
    pub mean: f64,
    pub max: f64,
    /// Of every payload, for the audit trail: the batch's fingerprint.
    pub checksum: u32,
}

/// Adds one reading to the summary; returns whether it is an anomaly.
pub fn fold(summary: &mut Summary, reading: &Reading) -> bool {
    summary.checksum = reading
        .raw_payload
        .iter()
        .fold(summary.checksum, |sum, &byte| {
            sum.rotate_left(5) ^ u32::from(byte)
        });
    summary.count += 1;
    summary.mean += (reading.celsius - summary.mean) / summary.count as f64;
    summary.max = if summary.count == 1 {
        reading.celsius
    } else {
        summary.max.max(reading.celsius)
    };
    let anomaly = reading.celsius > LIMIT;
    if anomaly {
        summary.anomalies += 1;
    }
    anomaly
}

/// The uninstrumented loop: the baseline.
pub fn summarize_uninstrumented(readings: &[Reading]) -> Summary {
    let mut summary = Summary::default();
    for reading in readings {
        fold(&mut summary, reading);
    }
    summary
}

/// `n` readings from eight sensors, one in about five hundred an anomaly.
pub fn sample_readings(n: usize) -> Vec<Reading> {
    (0..n)
        .map(|i| Reading {
            sensor: format!("sensor-{}", i % 8),
            celsius: if i % 499 == 7 {
                95.0 + (i % 5) as f64
            } else {
                20.0 + (i % 37) as f64
            },
            raw_payload: vec![(i % 251) as u8; 64],
        })
        .collect()
}

//! A span profile, end to end on loopback: CPU burned in a named function
//! inside spans arrives as OTLP profile samples linked to exactly those
//! spans, with the function in their stacks; a span that waits gets none.

use std::hint::black_box;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::routing::post;
use opentelemetry_proto::tonic::collector::profiles::v1development::ExportProfilesServiceRequest;
use opentelemetry_proto::tonic::profiles::v1development::{ProfilesDictionary, Sample};
use opentelemetry_sdk::trace::InMemorySpanExporter;
use prost::Message;
use telemetry::profiling::SpanProfiler;

mod common;
use common::{burn_in_a_named_function, samples};

type Received = Arc<Mutex<Vec<ExportProfilesServiceRequest>>>;

/// A receiver of OTLP profiles on loopback, keeping every request.
fn receiver(runtime: &tokio::runtime::Runtime) -> (String, Received) {
    let received = Received::default();
    let kept = received.clone();
    let app = axum::Router::new().route(
        "/v1development/profiles",
        post(move |body: Bytes| async move {
            let request = ExportProfilesServiceRequest::decode(body).expect("an OTLP profile");
            kept.lock().expect("lock").push(request);
        }),
    );
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("a port on loopback");
    let endpoint = format!("http://{}", listener.local_addr().expect("address"));
    runtime.spawn(async move { axum::serve(listener, app).await });
    (endpoint, received)
}

fn names(dictionary: &ProfilesDictionary, sample: &Sample) -> Vec<String> {
    dictionary.stack_table[sample.stack_index as usize]
        .location_indices
        .iter()
        .flat_map(|&location| &dictionary.location_table[location as usize].lines)
        .map(|line| {
            let function = &dictionary.function_table[line.function_index as usize];
            dictionary.string_table[function.name_strindex as usize].clone()
        })
        .collect()
}

#[test]
fn cpu_burned_in_a_span_is_sampled_into_that_span_and_a_waiting_span_gets_none() {
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    let (endpoint, received) = receiver(&runtime);
    let exporter = InMemorySpanExporter::default();
    let provider = telemetry::tracer_provider("burner", Some(exporter.clone()));
    let settings = telemetry::Settings::quiet("burner");
    let (subscriber, _log_writers) = telemetry::subscriber(&settings, &provider);
    let profiler = SpanProfiler::start("burner", &endpoint).expect("the profiler starts");
    let mut burning_spans = 0;
    tracing::subscriber::with_default(subscriber, || {
        // A sampler on a process timer takes fewer samples when the machine
        // is busy (expiries that fall between two of the kernel's ticks
        // merge): burn until 50 samples were sent, not for a fixed time.
        while samples("sent") < 50 && burning_spans < 400 {
            tracing::info_span!("burns").in_scope(|| black_box(burn_in_a_named_function(50.0)));
            burning_spans += 1;
        }
        tracing::info_span!("waits").in_scope(|| {
            std::thread::sleep(std::time::Duration::from_millis(300));
        });
    });
    // The last window is joined and sent before `stop` returns.
    profiler.stop();
    provider.force_flush().expect("spans flushed");
    let spans = exporter.get_finished_spans().expect("spans");
    let ids_of = |name: &str| -> Vec<Vec<u8>> {
        spans
            .iter()
            .filter(|span| span.name == name)
            .map(|span| span.span_context.span_id().to_bytes().to_vec())
            .collect()
    };
    let (burning, waiting) = (ids_of("burns"), ids_of("waits"));
    assert_eq!(burning.len(), burning_spans);

    let received = received.lock().expect("lock");
    assert!(!received.is_empty(), "no profile was sent");
    let (mut in_burning, mut with_function, mut in_waiting, mut elsewhere) = (0, 0, 0, 0);
    for request in received.iter() {
        let dictionary = request.dictionary.as_ref().expect("a dictionary");
        let service = request.resource_profiles[0]
            .resource
            .as_ref()
            .expect("a resource");
        assert!(
            format!("{:?}", service.attributes[0].value).contains("burner"),
            "{service:?}"
        );
        for profile in &request.resource_profiles[0].scope_profiles[0].profiles {
            for sample in &profile.samples {
                let link = &dictionary.link_table[sample.link_index as usize];
                assert_ne!(sample.link_index, 0, "a sample sent without its span");
                // 10 ms of CPU per sample, at 100 Hz.
                let samples = sample.values[0] / 10_000_000;
                if burning.contains(&link.span_id) {
                    in_burning += samples;
                    if names(dictionary, sample)
                        .iter()
                        .any(|name| name.contains("burn_in_a_named_function"))
                    {
                        with_function += samples;
                    }
                } else if waiting.contains(&link.span_id) {
                    in_waiting += samples;
                } else {
                    elsewhere += samples;
                }
            }
        }
    }
    let outcomes: Vec<String> = telemetry::metrics::encode()
        .lines()
        .filter(|line| line.starts_with("span_profile"))
        .map(str::to_owned)
        .collect();
    println!(
        "samples: {in_burning} in the burning spans ({with_function} naming the function), \
         {in_waiting} in the waiting span, {elsewhere} in other spans; {outcomes:?}"
    );
    assert!(
        in_burning >= 50,
        "{in_burning} samples in the burning spans, {elsewhere} elsewhere"
    );
    assert!(
        with_function * 10 >= in_burning * 9,
        "{with_function} of {in_burning} samples in the burning spans name the function"
    );
    assert!(
        in_waiting <= 2,
        "{in_waiting} samples in a span that slept 300 ms"
    );
}

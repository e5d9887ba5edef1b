//! OTLP profiles built by hand, as a service that runs with profiling on
//! sends them: one dictionary an export (each table's entry 0 its zero
//! value), each sample a stack's and a link's index into it.

use opentelemetry_proto::tonic::collector::profiles::v1development::ExportProfilesServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::profiles::v1development::{
    Function, KeyValueAndUnit, Line, Link, Location, Mapping, Profile, ProfilesDictionary,
    ResourceProfiles, Sample, ScopeProfiles, Stack, ValueType,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use prost::Message;

/// One export of CPU samples, built a sample at a time.
pub struct ProfileExport {
    service: String,
    /// The samples' type and unit, as the profile's `sample_type` says.
    sample_type: (&'static str, &'static str),
    /// The CPU time between two samples, as the profile's `period` says
    /// (in nanoseconds); unsaid when `None`.
    period_ns: Option<i64>,
    dictionary: ProfilesDictionary,
    samples: Vec<Sample>,
}

impl ProfileExport {
    /// An export of `service`'s samples, counted (`samples`, `count`).
    pub fn new(service: &str) -> Self {
        Self {
            service: service.to_owned(),
            sample_type: ("samples", "count"),
            period_ns: None,
            dictionary: ProfilesDictionary {
                mapping_table: vec![Mapping::default()],
                location_table: vec![Location::default()],
                function_table: vec![Function::default()],
                link_table: vec![Link::default()],
                string_table: vec![String::new()],
                attribute_table: vec![KeyValueAndUnit::default()],
                stack_table: vec![Stack::default()],
            },
            samples: Vec::new(),
        }
    }

    /// Its samples weigh CPU time (`cpu`, `nanoseconds`), not a count.
    pub fn in_nanoseconds(mut self) -> Self {
        self.sample_type = ("cpu", "nanoseconds");
        self
    }

    /// Its samples are taken every `period_ns` of CPU time, as a service's
    /// profile says (`period_type` `cpu`, `nanoseconds`).
    pub fn every_ns(mut self, period_ns: i64) -> Self {
        self.period_ns = Some(period_ns);
        self
    }

    /// A sample of `stack` (function names, from the root down) taken in
    /// span `span` of trace `trace` (ids as `common::span` makes them: the
    /// byte repeated), weighing `weight` (its one value).
    pub fn sample(self, trace: u8, span: u8, stack: &[&str], weight: i64) -> Self {
        self.sample_of(
            Some((vec![trace; 16], vec![span; 8])),
            stack,
            vec![weight],
            Vec::new(),
        )
    }

    /// A sample of any shape: linked to the span of these ids (`None`: to
    /// no span, `link_index` 0), with these values and timestamps.
    pub fn sample_of(
        mut self,
        link: Option<(Vec<u8>, Vec<u8>)>,
        stack: &[&str],
        values: Vec<i64>,
        timestamps: Vec<u64>,
    ) -> Self {
        let stack_index = self.stack(stack);
        let link_index = match link {
            Some((trace_id, span_id)) => self.link(trace_id, span_id),
            None => 0,
        };
        self.samples.push(Sample {
            stack_index,
            link_index,
            values,
            timestamps_unix_nano: timestamps,
            ..Sample::default()
        });
        self
    }

    pub fn request(mut self) -> ExportProfilesServiceRequest {
        let sample_type = ValueType {
            type_strindex: self.string(self.sample_type.0),
            unit_strindex: self.string(self.sample_type.1),
        };
        let period_type = self.period_ns.is_some().then(|| ValueType {
            type_strindex: self.string("cpu"),
            unit_strindex: self.string("nanoseconds"),
        });
        let service_name = KeyValue {
            key: "service.name".to_owned(),
            value: Some(AnyValue {
                value: Some(any_value::Value::StringValue(self.service.clone())),
            }),
            ..KeyValue::default()
        };
        ExportProfilesServiceRequest {
            resource_profiles: vec![ResourceProfiles {
                resource: Some(Resource {
                    attributes: vec![service_name],
                    ..Resource::default()
                }),
                scope_profiles: vec![ScopeProfiles {
                    profiles: vec![Profile {
                        sample_type: Some(sample_type),
                        samples: self.samples,
                        period_type,
                        period: self.period_ns.unwrap_or(0),
                        ..Profile::default()
                    }],
                    ..ScopeProfiles::default()
                }],
                ..ResourceProfiles::default()
            }],
            dictionary: Some(self.dictionary),
        }
    }

    /// The export, as protobuf.
    pub fn encoded(self) -> Vec<u8> {
        self.request().encode_to_vec()
    }

    fn string(&mut self, text: &str) -> i32 {
        let table = &mut self.dictionary.string_table;
        let at = table.iter().position(|s| s == text).unwrap_or_else(|| {
            table.push(text.to_owned());
            table.len() - 1
        });
        i32::try_from(at).expect("a small table")
    }

    /// The location of `function`: one line, the function's.
    fn location(&mut self, function: &str) -> i32 {
        let name_strindex = self.string(function);
        let functions = &mut self.dictionary.function_table;
        let function_index = functions
            .iter()
            .position(|f| f.name_strindex == name_strindex)
            .unwrap_or_else(|| {
                functions.push(Function {
                    name_strindex,
                    ..Function::default()
                });
                functions.len() - 1
            });
        let line = Line {
            function_index: i32::try_from(function_index).expect("a small table"),
            ..Line::default()
        };
        let locations = &mut self.dictionary.location_table;
        let at = locations
            .iter()
            .position(|l| l.lines == [line])
            .unwrap_or_else(|| {
                locations.push(Location {
                    lines: vec![line],
                    ..Location::default()
                });
                locations.len() - 1
            });
        i32::try_from(at).expect("a small table")
    }

    /// The stack of these functions, from the root down: its locations
    /// leaf first, as the protocol orders them.
    fn stack(&mut self, functions: &[&str]) -> i32 {
        let location_indices: Vec<i32> = functions
            .iter()
            .rev()
            .map(|function| self.location(function))
            .collect();
        let stacks = &mut self.dictionary.stack_table;
        let at = stacks
            .iter()
            .position(|s| s.location_indices == location_indices)
            .unwrap_or_else(|| {
                stacks.push(Stack { location_indices });
                stacks.len() - 1
            });
        i32::try_from(at).expect("a small table")
    }

    fn link(&mut self, trace_id: Vec<u8>, span_id: Vec<u8>) -> i32 {
        let link = Link { trace_id, span_id };
        let links = &mut self.dictionary.link_table;
        let at = links.iter().position(|l| *l == link).unwrap_or_else(|| {
            links.push(link);
            links.len() - 1
        });
        i32::try_from(at).expect("a small table")
    }
}

/// The frames of an inferno flame graph, each as its title:
/// `name (N samples, P%)`, the root's `all (N samples, 100%)`.
pub fn frames(svg: &str) -> Vec<&str> {
    svg.split("<title>")
        .skip(1)
        .filter_map(|rest| rest.split("</title>").next())
        .collect()
}

/// A frame's share of the samples, in percent, as its title says it.
pub fn share(frame: &str) -> f64 {
    frame
        .rsplit(", ")
        .next()
        .and_then(|percent| percent.trim_end_matches("%)").parse().ok())
        .unwrap_or(0.0)
}

/// The widest frame but the root (`all`): its title.
pub fn widest_frame<'a>(frames: &[&'a str]) -> Option<&'a str> {
    frames
        .iter()
        .copied()
        .filter(|frame| !frame.starts_with("all ("))
        .max_by(|a, b| share(a).total_cmp(&share(b)))
}

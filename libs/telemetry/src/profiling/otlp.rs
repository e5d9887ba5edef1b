//! The samples placed in their spans, as the OpenTelemetry profiles signal
//! carries them (OTLP, `v1development`): one profile per export, its
//! strings, functions, locations, stacks and span links in the request's
//! shared dictionary, each table's entry 0 the zero value, as the signal
//! asks.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Arc;

use opentelemetry_proto::tonic::collector::profiles::v1development::ExportProfilesServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use opentelemetry_proto::tonic::profiles::v1development::{
    Function, KeyValueAndUnit, Line, Link, Location, Mapping, Profile, ProfilesDictionary,
    ResourceProfiles, Sample, ScopeProfiles, Stack, ValueType,
};
use opentelemetry_proto::tonic::resource::v1::Resource;

use super::join::InSpan;

/// A stack as the sampler saw it: function names, the leaf first (the
/// signal's order).
pub(crate) type Frames = Arc<[Arc<str>]>;

/// The OTLP/HTTP path of the profiles signal.
pub(crate) const PATH: &str = "/v1development/profiles";

/// One window's samples of `service`, taken every `period_ns` of CPU time
/// from `start_ns` for `duration_ns`, as one export request.
pub(crate) fn request(
    service: &str,
    samples: &[InSpan<Frames>],
    start_ns: u64,
    duration_ns: u64,
    period_ns: i64,
) -> ExportProfilesServiceRequest {
    let mut dictionary = Dictionary::default();
    let cpu = dictionary.strings.index(Arc::from("cpu"));
    let nanoseconds = dictionary.strings.index(Arc::from("nanoseconds"));
    let samples = samples
        .iter()
        .map(|in_span| Sample {
            stack_index: dictionary.stack(&in_span.sample.stack),
            attribute_indices: Vec::new(),
            link_index: dictionary.links.index((in_span.trace_id, in_span.span_id)),
            values: vec![in_span.sample.weight * period_ns],
            timestamps_unix_nano: vec![in_span.sample.at_ns],
        })
        .collect();
    let profile = Profile {
        sample_type: Some(ValueType {
            type_strindex: cpu,
            unit_strindex: nanoseconds,
        }),
        samples,
        time_unix_nano: start_ns,
        duration_nano: duration_ns,
        period_type: Some(ValueType {
            type_strindex: cpu,
            unit_strindex: nanoseconds,
        }),
        period: period_ns,
        ..Profile::default()
    };
    ExportProfilesServiceRequest {
        resource_profiles: vec![ResourceProfiles {
            resource: Some(Resource {
                attributes: vec![KeyValue {
                    key: "service.name".to_owned(),
                    value: Some(AnyValue {
                        value: Some(any_value::Value::StringValue(service.to_owned())),
                    }),
                    ..KeyValue::default()
                }],
                ..Resource::default()
            }),
            scope_profiles: vec![ScopeProfiles {
                scope: Some(InstrumentationScope {
                    name: "telemetry".to_owned(),
                    ..InstrumentationScope::default()
                }),
                profiles: vec![profile],
                schema_url: String::new(),
            }],
            schema_url: String::new(),
        }],
        dictionary: Some(dictionary.finish()),
    }
}

/// A table whose entries are given once, each at its index; entry 0 is
/// the zero value.
struct Table<K> {
    indices: HashMap<K, i32>,
    entries: Vec<K>,
}

impl<K: Clone + Eq + Hash> Table<K> {
    fn with_zero(zero: K) -> Self {
        Self {
            indices: HashMap::from([(zero.clone(), 0)]),
            entries: vec![zero],
        }
    }

    fn index(&mut self, key: K) -> i32 {
        if let Some(&index) = self.indices.get(&key) {
            return index;
        }
        let index = self.entries.len() as i32;
        self.indices.insert(key.clone(), index);
        self.entries.push(key);
        index
    }
}

struct Dictionary {
    strings: Table<Arc<str>>,
    /// A function per name (its name's string index), and a location per
    /// function: the sampler names frames, it keeps no addresses.
    functions: Table<i32>,
    stacks: Table<Vec<i32>>,
    links: Table<([u8; 16], [u8; 8])>,
}

impl Default for Dictionary {
    fn default() -> Self {
        Self {
            strings: Table::with_zero(Arc::from("")),
            functions: Table::with_zero(0),
            stacks: Table::with_zero(Vec::new()),
            links: Table::with_zero(([0; 16], [0; 8])),
        }
    }
}

impl Dictionary {
    /// The stack's index; function `i` is at location `i`.
    fn stack(&mut self, frames: &Frames) -> i32 {
        let locations = frames
            .iter()
            .map(|name| {
                let name = self.strings.index(name.clone());
                self.functions.index(name)
            })
            .collect();
        self.stacks.index(locations)
    }

    fn finish(self) -> ProfilesDictionary {
        let functions = self.functions.entries;
        ProfilesDictionary {
            mapping_table: vec![Mapping::default()],
            location_table: (0..functions.len())
                .map(|function| {
                    if function == 0 {
                        return Location::default();
                    }
                    Location {
                        lines: vec![Line {
                            function_index: function as i32,
                            ..Line::default()
                        }],
                        ..Location::default()
                    }
                })
                .collect(),
            function_table: functions
                .iter()
                .map(|&name| Function {
                    name_strindex: name,
                    ..Function::default()
                })
                .collect(),
            link_table: self
                .links
                .entries
                .into_iter()
                .enumerate()
                .map(|(index, (trace_id, span_id))| {
                    if index == 0 {
                        return Link::default();
                    }
                    Link {
                        trace_id: trace_id.to_vec(),
                        span_id: span_id.to_vec(),
                    }
                })
                .collect(),
            string_table: self
                .strings
                .entries
                .iter()
                .map(|name| name.to_string())
                .collect(),
            attribute_table: vec![KeyValueAndUnit::default()],
            stack_table: self
                .stacks
                .entries
                .into_iter()
                .map(|location_indices| Stack { location_indices })
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profiling::join::Sample as Taken;

    fn frames(names: &[&str]) -> Frames {
        names.iter().map(|name| Arc::from(*name)).collect()
    }

    fn in_span(span: u8, names: &[&str], weight: i64) -> InSpan<Frames> {
        InSpan {
            trace_id: [span; 16],
            span_id: [span; 8],
            sample: Taken {
                thread: 1,
                at_ns: 1_000 + u64::from(span),
                weight,
                stack: frames(names),
            },
        }
    }

    /// The names of a sample's stack, leaf first, read back through the
    /// dictionary as a receiver reads them.
    fn names(dictionary: &ProfilesDictionary, sample: &Sample) -> Vec<String> {
        dictionary.stack_table[sample.stack_index as usize]
            .location_indices
            .iter()
            .map(|&location| {
                let line = &dictionary.location_table[location as usize].lines[0];
                let function = &dictionary.function_table[line.function_index as usize];
                dictionary.string_table[function.name_strindex as usize].clone()
            })
            .collect()
    }

    #[test]
    fn each_sample_reads_back_as_its_stack_its_span_and_its_cpu_time() {
        let samples = [
            in_span(1, &["index_coupons", "quote", "main"], 3),
            in_span(2, &["serde_json::to_vec", "quote", "main"], 1),
            in_span(1, &["index_coupons", "quote", "main"], 2),
        ];
        let request = request("pricing", &samples, 5, 1_000_000_000, 10_000_000);
        let dictionary = request.dictionary.as_ref().expect("a dictionary");
        for table_starts_with_zero in [
            dictionary.string_table[0].is_empty(),
            dictionary.function_table[0] == Function::default(),
            dictionary.location_table[0] == Location::default(),
            dictionary.stack_table[0] == Stack::default(),
            dictionary.link_table[0] == Link::default(),
            dictionary.mapping_table[0] == Mapping::default(),
            dictionary.attribute_table[0] == KeyValueAndUnit::default(),
        ] {
            assert!(table_starts_with_zero, "{dictionary:#?}");
        }
        let resource = &request.resource_profiles[0];
        let profile = &resource.scope_profiles[0].profiles[0];
        assert_eq!(profile.samples.len(), 3);
        let read: Vec<(Vec<String>, Vec<u8>, i64)> = profile
            .samples
            .iter()
            .map(|sample| {
                let link = &dictionary.link_table[sample.link_index as usize];
                (
                    names(dictionary, sample),
                    link.span_id.clone(),
                    sample.values[0],
                )
            })
            .collect();
        assert_eq!(
            read,
            [
                (
                    vec!["index_coupons".into(), "quote".into(), "main".into()],
                    vec![1; 8],
                    30_000_000
                ),
                (
                    vec!["serde_json::to_vec".into(), "quote".into(), "main".into()],
                    vec![2; 8],
                    10_000_000
                ),
                (
                    vec!["index_coupons".into(), "quote".into(), "main".into()],
                    vec![1; 8],
                    20_000_000
                ),
            ]
        );
        // Shared entries are given once.
        assert_eq!(dictionary.stack_table.len(), 3);
        assert_eq!(dictionary.link_table.len(), 3);
        assert_eq!(
            dictionary
                .string_table
                .iter()
                .filter(|s| *s == "quote")
                .count(),
            1
        );
        let service = &resource.resource.as_ref().expect("a resource").attributes[0];
        assert_eq!(service.key, "service.name");
    }
}

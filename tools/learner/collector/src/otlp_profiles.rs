//! How OTLP's profiles become the collector's CPU samples
//! ([`CpuSamples`]).
//!
//! A service that runs with profiling on samples its threads' stacks and
//! links each sample to the span its thread had entered innermost at that
//! instant. It sends them as OTLP profiles (the signal's `v1development`
//! version): one dictionary of tables per export (strings, functions,
//! locations, stacks, links), each sample a stack's and a link's index into
//! them. Each sample becomes its span's ids, its stack as function names
//! from the root down, its weight, and its profile's sampling period where
//! the profile gives one in nanoseconds. A stack or a name is resolved once
//! an export, however many samples share it.
//!
//! A malformed export (an index past its table, a link whose ids are not 16
//! and 8 bytes, a negative value) is refused whole with the reason, as a
//! malformed span refuses its batch: its sender learns of its bug rather
//! than losing samples silently. A sample with no link (`link_index` 0, or
//! a link of zero ids) belongs to no span, so no view can place it: it is
//! counted, and dropped.

use std::collections::HashMap;

use opentelemetry_proto::tonic::collector::profiles::v1development::ExportProfilesServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value;
use opentelemetry_proto::tonic::profiles::v1development::{Profile, ProfilesDictionary, Sample};
use opentelemetry_proto::tonic::resource::v1::Resource;
use trace_analysis::aggregate::ELIDED;

use crate::limits::MAX_STACK_FRAMES;
use crate::otlp::UNKNOWN_SERVICE;

/// The frame of a function with no name, or of a location with neither a
/// function nor an address.
pub const UNKNOWN_FRAME: &str = "[unknown]";

/// The one frame of a sample whose stack holds no location.
pub const NO_STACK: &str = "[no stack]";

/// Of a stack deeper than [`MAX_STACK_FRAMES`], the outermost frames kept
/// (from the root): where the work came from.
const OUTERMOST_FRAMES: usize = MAX_STACK_FRAMES / 2;

/// Of a stack deeper than [`MAX_STACK_FRAMES`], the innermost frames kept:
/// where the CPU was. With [`ELIDED`] and the outermost frames, a cut stack
/// is [`MAX_STACK_FRAMES`] frames.
const INNERMOST_FRAMES: usize = MAX_STACK_FRAMES - 1 - OUTERMOST_FRAMES;

/// An export's CPU samples, as the store takes them in: each string and
/// stack once, and each sample linked to its span.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CpuSamples {
    /// Function names, services and units, each once.
    pub(crate) strings: Vec<String>,
    /// Stacks, each as indices into `strings`, from the root down.
    pub(crate) stacks: Vec<Vec<u32>>,
    pub(crate) samples: Vec<LinkedSample>,
    /// Samples linked to no span, dropped.
    pub(crate) unlinked: u64,
    /// Stacks deeper than [`MAX_STACK_FRAMES`], cut.
    pub(crate) stacks_cut: u64,
}

impl CpuSamples {
    /// Samples linked to a span, to be stored.
    pub fn linked(&self) -> usize {
        self.samples.len()
    }

    /// Samples linked to no span, dropped.
    pub fn unlinked(&self) -> u64 {
        self.unlinked
    }
}

/// One sample, linked to the span it was taken in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct LinkedSample {
    pub(crate) trace_id: [u8; 16],
    pub(crate) span_id: [u8; 8],
    /// The service that sent it (its resource's `service.name`), as an
    /// index into [`CpuSamples::strings`].
    pub(crate) service: u32,
    /// The unit of its profile's values (`count`, `nanoseconds`; empty when
    /// unsaid), as an index into [`CpuSamples::strings`].
    pub(crate) unit: u32,
    /// An index into [`CpuSamples::stacks`].
    pub(crate) stack: u32,
    pub(crate) weight: u64,
    /// Its profile's sampling period in nanoseconds (the CPU time one
    /// sample stands for); 0 where the profile says none in nanoseconds.
    pub(crate) period_ns: u64,
}

/// Whether a unit of the samples' values is CPU time in nanoseconds (the
/// other units count samples).
pub fn in_nanoseconds(unit: &str) -> bool {
    matches!(unit, "nanoseconds" | "ns")
}

/// Why an export was refused.
#[derive(Debug, PartialEq, Eq)]
pub enum InvalidProfile {
    /// An index past its table, or negative.
    Index {
        /// Which index: `a sample's stack_index`.
        field: &'static str,
        index: i32,
        /// Which table of the dictionary: `stack_table`.
        table: &'static str,
        len: usize,
    },
    /// A link (by its index) whose trace id is not 16 bytes.
    LinkTraceId { link: i32, len: usize },
    /// A link (by its index) whose span id is not 8 bytes.
    LinkSpanId { link: i32, len: usize },
    /// A sample's value below zero.
    NegativeValue(i64),
}

impl std::fmt::Display for InvalidProfile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            InvalidProfile::Index {
                field,
                index,
                table,
                len,
            } => write!(
                f,
                "{field} {index} is past the dictionary's {table}, of {len} entries"
            ),
            InvalidProfile::LinkTraceId { link, len } => write!(
                f,
                "link {link} of the dictionary's link_table has a trace id of {len} bytes, not 16"
            ),
            InvalidProfile::LinkSpanId { link, len } => write!(
                f,
                "link {link} of the dictionary's link_table has a span id of {len} bytes, not 8"
            ),
            InvalidProfile::NegativeValue(value) => write!(
                f,
                "a sample's value is {value}: a CPU sample weighs 0 or more"
            ),
        }
    }
}

/// Reads an OTLP profiles export into CPU samples linked to spans; a
/// malformed one is refused whole (see the module's documentation).
pub fn from_otlp(request: ExportProfilesServiceRequest) -> Result<CpuSamples, InvalidProfile> {
    let dictionary = request.dictionary.unwrap_or_default();
    let mut resolver = Resolver::new(&dictionary);
    let mut samples = Vec::new();
    let mut unlinked = 0;
    for resource_profiles in request.resource_profiles {
        let service = resolver.text(service_name(resource_profiles.resource.as_ref()));
        for scope_profiles in resource_profiles.scope_profiles {
            for profile in scope_profiles.profiles {
                let period_ns = period_ns(&profile, &dictionary.string_table);
                let unit = match profile.sample_type {
                    Some(sample_type) => resolver.string(
                        sample_type.unit_strindex,
                        "a profile's sample_type unit_strindex",
                    )?,
                    None => resolver.text(""),
                };
                for sample in &profile.samples {
                    let weight = weight(sample)?;
                    let stack = resolver.stack(sample.stack_index)?;
                    let Some((trace_id, span_id)) = resolver.link(sample.link_index)? else {
                        unlinked += 1;
                        continue;
                    };
                    samples.push(LinkedSample {
                        trace_id,
                        span_id,
                        service,
                        unit,
                        stack,
                        weight,
                        period_ns,
                    });
                }
            }
        }
    }
    Ok(CpuSamples {
        strings: resolver.strings,
        stacks: resolver.stacks,
        samples,
        unlinked,
        stacks_cut: resolver.stacks_cut,
    })
}

/// A sample's weight: the sum of its values (one value is the whole
/// weight; several are one an observation, as the protocol allows), else
/// the number of its timestamps (one an observation), else 1.
fn weight(sample: &Sample) -> Result<u64, InvalidProfile> {
    if sample.values.is_empty() {
        let observed = u64::try_from(sample.timestamps_unix_nano.len()).unwrap_or(u64::MAX);
        return Ok(observed.max(1));
    }
    sample.values.iter().try_fold(0u64, |sum, &value| {
        u64::try_from(value)
            .map(|value| sum.saturating_add(value))
            .map_err(|_| InvalidProfile::NegativeValue(value))
    })
}

/// A profile's sampling period in nanoseconds: its `period`, when its
/// `period_type`'s unit is nanoseconds; else 0, unknown. Only informative
/// (it turns a count of samples into CPU time and back), so a period of
/// another unit, or one whose unit is not in the string table, is read as
/// none rather than refused.
fn period_ns(profile: &Profile, strings: &[String]) -> u64 {
    let in_ns = profile
        .period_type
        .as_ref()
        .and_then(|period_type| usize::try_from(period_type.unit_strindex).ok())
        .and_then(|at| strings.get(at))
        .is_some_and(|unit| in_nanoseconds(unit.as_str()));
    if in_ns {
        u64::try_from(profile.period).unwrap_or(0)
    } else {
        0
    }
}

/// The resource's `service.name`, as for spans.
fn service_name(resource: Option<&Resource>) -> &str {
    resource
        .into_iter()
        .flat_map(|resource| &resource.attributes)
        .find(|attribute| attribute.key == "service.name")
        .and_then(
            |attribute| match attribute.value.as_ref()?.value.as_ref()? {
                any_value::Value::StringValue(name) => Some(name.as_str()),
                _ => None,
            },
        )
        .unwrap_or(UNKNOWN_SERVICE)
}

/// The entry at `index` of a dictionary's table, or why there is none.
fn entry<'t, T>(
    table: &'t [T],
    index: i32,
    field: &'static str,
    name: &'static str,
) -> Result<&'t T, InvalidProfile> {
    usize::try_from(index)
        .ok()
        .and_then(|at| table.get(at))
        .ok_or(InvalidProfile::Index {
            field,
            index,
            table: name,
            len: table.len(),
        })
}

/// A span's trace id and span id, as a link carries them.
type SpanIds = ([u8; 16], [u8; 8]);

/// Resolves one export's indices into names and stacks, each once.
struct Resolver<'d> {
    dictionary: &'d ProfilesDictionary,
    /// The strings resolved so far, and where each one is.
    strings: Vec<String>,
    places: HashMap<String, u32>,
    /// Where each function's name is in `strings`, by the function's index.
    functions: HashMap<i32, u32>,
    /// The stacks resolved so far, and where each dictionary's stack is.
    stacks: Vec<Vec<u32>>,
    stack_places: HashMap<i32, u32>,
    stacks_cut: u64,
}

impl<'d> Resolver<'d> {
    fn new(dictionary: &'d ProfilesDictionary) -> Self {
        Self {
            dictionary,
            strings: Vec::new(),
            places: HashMap::new(),
            functions: HashMap::new(),
            stacks: Vec::new(),
            stack_places: HashMap::new(),
            stacks_cut: 0,
        }
    }

    /// Where `text` is in the strings, added if new.
    fn text(&mut self, text: &str) -> u32 {
        if let Some(&place) = self.places.get(text) {
            return place;
        }
        let place = u32::try_from(self.strings.len()).unwrap_or(u32::MAX);
        self.strings.push(text.to_owned());
        self.places.insert(text.to_owned(), place);
        place
    }

    /// The string table's entry at `index`, placed in the strings.
    fn string(&mut self, index: i32, field: &'static str) -> Result<u32, InvalidProfile> {
        let dictionary = self.dictionary;
        let text = entry(&dictionary.string_table, index, field, "string_table")?;
        Ok(self.text(text))
    }

    /// The name of the function at `index`, placed in the strings.
    fn function(&mut self, index: i32) -> Result<u32, InvalidProfile> {
        if let Some(&place) = self.functions.get(&index) {
            return Ok(place);
        }
        let dictionary = self.dictionary;
        let function = entry(
            &dictionary.function_table,
            index,
            "a line's function_index",
            "function_table",
        )?;
        let name = entry(
            &dictionary.string_table,
            function.name_strindex,
            "a function's name_strindex",
            "string_table",
        )?;
        let place = self.text(if name.is_empty() {
            UNKNOWN_FRAME
        } else {
            name.as_str()
        });
        self.functions.insert(index, place);
        Ok(place)
    }

    /// The span a link names, or `None` for no span: the link at index 0
    /// (the table's zero value), or one whose ids are zeros.
    fn link(&self, index: i32) -> Result<Option<SpanIds>, InvalidProfile> {
        if index == 0 {
            return Ok(None);
        }
        let link = entry(
            &self.dictionary.link_table,
            index,
            "a sample's link_index",
            "link_table",
        )?;
        let trace_id: [u8; 16] =
            link.trace_id
                .as_slice()
                .try_into()
                .map_err(|_| InvalidProfile::LinkTraceId {
                    link: index,
                    len: link.trace_id.len(),
                })?;
        let span_id: [u8; 8] =
            link.span_id
                .as_slice()
                .try_into()
                .map_err(|_| InvalidProfile::LinkSpanId {
                    link: index,
                    len: link.span_id.len(),
                })?;
        if trace_id == [0; 16] || span_id == [0; 8] {
            return Ok(None);
        }
        Ok(Some((trace_id, span_id)))
    }

    /// The stack at `index`, placed in the stacks: its frames from the
    /// root down, a location's inlined functions each a frame; cut around
    /// [`ELIDED`] when deeper than [`MAX_STACK_FRAMES`].
    ///
    /// A location may hold any number of lines, so the stack's depth is
    /// counted before it is walked, and the locations wholly in a cut
    /// middle are passed over: a small export cannot make a stack of
    /// billions of frames.
    fn stack(&mut self, index: i32) -> Result<u32, InvalidProfile> {
        if let Some(&place) = self.stack_places.get(&index) {
            return Ok(place);
        }
        let dictionary = self.dictionary;
        let stack = entry(
            &dictionary.stack_table,
            index,
            "a sample's stack_index",
            "stack_table",
        )?;
        // The first location is the leaf.
        let locations = stack
            .location_indices
            .iter()
            .map(|&location| {
                entry(
                    &dictionary.location_table,
                    location,
                    "a stack's location index",
                    "location_table",
                )
            })
            .collect::<Result<Vec<_>, _>>()?;
        let depth: usize = locations
            .iter()
            .map(|location| location.lines.len().max(1))
            .sum();
        let cut = depth > MAX_STACK_FRAMES;
        let kept = |position: usize| {
            !cut || position < INNERMOST_FRAMES || position >= depth - OUTERMOST_FRAMES
        };
        let mut leaf_first = Vec::with_capacity(depth.min(MAX_STACK_FRAMES));
        let mut position = 0;
        for location in locations {
            let frames = location.lines.len().max(1);
            if cut && position >= INNERMOST_FRAMES && position + frames <= depth - OUTERMOST_FRAMES
            {
                position += frames;
                continue;
            }
            if location.lines.is_empty() {
                if kept(position) {
                    let name = match location.address {
                        0 => UNKNOWN_FRAME.to_owned(),
                        address => format!("{address:#x}"),
                    };
                    leaf_first.push(self.text(&name));
                }
                position += 1;
                continue;
            }
            // A location's lines: its inlined functions, innermost first,
            // the function they were inlined into last.
            for line in &location.lines {
                if kept(position) {
                    leaf_first.push(self.function(line.function_index)?);
                }
                position += 1;
            }
        }
        let mut root_first = leaf_first;
        root_first.reverse();
        if cut {
            let elided = self.text(ELIDED);
            root_first.insert(OUTERMOST_FRAMES, elided);
            self.stacks_cut += 1;
        }
        if root_first.is_empty() {
            root_first.push(self.text(NO_STACK));
        }
        let place = u32::try_from(self.stacks.len()).unwrap_or(u32::MAX);
        self.stacks.push(root_first);
        self.stack_places.insert(index, place);
        Ok(place)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry_proto::tonic::profiles::v1development::{
        Function, Line, Link, Location, Profile, ResourceProfiles, ScopeProfiles, Stack,
    };

    /// Functions `main` (1), `serve` (2) and `hash` (3); location 1 is
    /// `serve` with `hash` inlined into it, location 2 is `main`; stack 1 is
    /// location 1 then 2 (leaf first); link 1 is trace 7's span 9.
    fn dictionary() -> ProfilesDictionary {
        let function = |name_strindex| Function {
            name_strindex,
            ..Function::default()
        };
        let line = |function_index| Line {
            function_index,
            ..Line::default()
        };
        ProfilesDictionary {
            string_table: ["", "main", "serve", "hash", "count"]
                .map(str::to_owned)
                .to_vec(),
            function_table: vec![Function::default(), function(1), function(2), function(3)],
            location_table: vec![
                Location::default(),
                Location {
                    lines: vec![line(3), line(2)],
                    ..Location::default()
                },
                Location {
                    lines: vec![line(1)],
                    ..Location::default()
                },
            ],
            stack_table: vec![
                Stack::default(),
                Stack {
                    location_indices: vec![1, 2],
                },
            ],
            link_table: vec![
                Link::default(),
                Link {
                    trace_id: vec![7; 16],
                    span_id: vec![9; 8],
                },
            ],
            ..ProfilesDictionary::default()
        }
    }

    fn export(
        dictionary: ProfilesDictionary,
        samples: Vec<Sample>,
    ) -> ExportProfilesServiceRequest {
        ExportProfilesServiceRequest {
            resource_profiles: vec![ResourceProfiles {
                scope_profiles: vec![ScopeProfiles {
                    profiles: vec![Profile {
                        samples,
                        ..Profile::default()
                    }],
                    ..ScopeProfiles::default()
                }],
                ..ResourceProfiles::default()
            }],
            dictionary: Some(dictionary),
        }
    }

    fn sample(stack_index: i32, link_index: i32, values: Vec<i64>) -> Sample {
        Sample {
            stack_index,
            link_index,
            values,
            ..Sample::default()
        }
    }

    fn names(samples: &CpuSamples, stack: u32) -> Vec<&str> {
        samples.stacks[stack as usize]
            .iter()
            .map(|&name| samples.strings[name as usize].as_str())
            .collect()
    }

    #[test]
    fn a_stack_reads_from_the_root_down_inlined_functions_under_their_caller() {
        let samples = from_otlp(export(
            dictionary(),
            vec![sample(1, 1, vec![3]), sample(1, 1, Vec::new())],
        ))
        .unwrap();
        assert_eq!(samples.linked(), 2);
        assert_eq!(samples.stacks.len(), 1, "one stack, resolved once");
        let first = samples.samples[0];
        assert_eq!((first.trace_id, first.span_id), ([7; 16], [9; 8]));
        assert_eq!(names(&samples, first.stack), ["main", "serve", "hash"]);
        assert_eq!(
            samples.strings[first.service as usize], UNKNOWN_SERVICE,
            "a resource that names no service"
        );
        let weights: Vec<u64> = samples.samples.iter().map(|s| s.weight).collect();
        assert_eq!(weights, [3, 1], "its value, else one");
    }

    #[test]
    fn a_sample_weighs_its_values_else_its_timestamps_else_one() {
        let with = |values: Vec<i64>, timestamps: Vec<u64>| Sample {
            values,
            timestamps_unix_nano: timestamps,
            ..Sample::default()
        };
        assert_eq!(weight(&with(vec![10_000_000], Vec::new())), Ok(10_000_000));
        assert_eq!(weight(&with(vec![2, 2, 3], vec![1, 2, 3])), Ok(7));
        assert_eq!(weight(&with(Vec::new(), vec![5, 6, 7, 8])), Ok(4));
        assert_eq!(weight(&with(Vec::new(), Vec::new())), Ok(1));
        assert_eq!(
            weight(&with(vec![-1], Vec::new())),
            Err(InvalidProfile::NegativeValue(-1))
        );
    }

    #[test]
    fn a_sample_of_no_span_is_counted_not_kept() {
        let mut zeros = dictionary();
        zeros.link_table.push(Link {
            trace_id: vec![0; 16],
            span_id: vec![0; 8],
        });
        let samples = from_otlp(export(
            zeros,
            vec![sample(1, 0, vec![1]), sample(1, 2, vec![1])],
        ))
        .unwrap();
        assert_eq!((samples.linked(), samples.unlinked()), (0, 2));
    }

    #[test]
    fn every_bad_index_and_link_is_refused_by_name() {
        let mut short_trace = dictionary();
        short_trace.link_table[1].trace_id = vec![7; 8];
        let mut short_span = dictionary();
        short_span.link_table[1].span_id = vec![9; 3];
        let mut bad_location = dictionary();
        bad_location.stack_table[1].location_indices.push(40);
        let mut bad_function = dictionary();
        bad_function.location_table[2].lines[0].function_index = -2;
        let mut bad_name = dictionary();
        bad_name.function_table[1].name_strindex = 99;
        let cases = [
            (dictionary(), sample(5, 1, vec![1]), "stack_index 5"),
            (dictionary(), sample(1, 3, vec![1]), "link_index 3"),
            (short_trace, sample(1, 1, vec![1]), "trace id of 8 bytes"),
            (short_span, sample(1, 1, vec![1]), "span id of 3 bytes"),
            (bad_location, sample(1, 1, vec![1]), "location index 40"),
            (bad_function, sample(1, 1, vec![1]), "function_index -2"),
            (bad_name, sample(1, 1, vec![1]), "name_strindex 99"),
            (dictionary(), sample(1, 1, vec![-5]), "is -5"),
            (
                ProfilesDictionary::default(),
                sample(0, 0, vec![1]),
                "stack_table, of 0 entries",
            ),
        ];
        for (dictionary, sample, reason) in cases {
            let refused = from_otlp(export(dictionary, vec![sample]))
                .expect_err(reason)
                .to_string();
            assert!(refused.contains(reason), "{reason:?} in {refused:?}");
        }
    }

    #[test]
    fn a_runaway_stack_keeps_its_ends_around_the_elided_frame() {
        let mut deep = dictionary();
        // Location 2 (`main`) is the root, then a million `serve`s with
        // `hash` inlined in each: two frames a location.
        deep.stack_table[1].location_indices = std::iter::repeat_n(1, 1_000_000)
            .chain(std::iter::once(2))
            .collect();
        let samples = from_otlp(export(deep, vec![sample(1, 1, vec![1])])).unwrap();
        let frames = names(&samples, 0);
        assert_eq!(frames.len(), MAX_STACK_FRAMES);
        assert_eq!(samples.stacks_cut, 1);
        assert_eq!(frames[0], "main");
        assert_eq!(frames[OUTERMOST_FRAMES], ELIDED);
        assert_eq!(frames.last(), Some(&"hash"), "the leaf stays");
    }
}

//! Where CPU samples live: in memory, bounded, each kept with the span it
//! was taken in.
//!
//! A service sampled at 100 Hz sends the same few stacks again and again,
//! so a function's name is kept once however many stacks hold it, and a
//! stack once (as its names' numbers, from the root down) however many
//! samples hold it; a sample is then its stack's number and its weight, in
//! its span's list. Names and stacks count their holders, and go when the
//! last one does: what the store holds is what its samples need.
//!
//! Two bounds hold the memory, as for spans: a count of samples
//! ([`Limits::max_samples`]) and a budget of estimated bytes
//! ([`Limits::max_sample_bytes`]: the samples, and each stack and name
//! once). Past either, the oldest samples are evicted, one at a time (a
//! span's samples are its own, not a trace's: there is no whole to keep
//! together). Every eviction is counted.

use std::collections::{BTreeMap, VecDeque};
use std::hash::Hash;
use std::sync::Arc;

use foldhash::HashMap;

use crate::limits::Limits;
use crate::otlp_profiles::CpuSamples;

/// What an interned value costs beyond its own bytes, estimated: the
/// `Arc`'s counts, the allocator's block, the map's entry and the slot.
const INTERNED_OVERHEAD_BYTES: usize = 80;

/// What a sample costs, estimated: its entry in its span's list, and its
/// span's ids in the arrival order.
const SAMPLE_BYTES: usize = size_of::<Entry>() + size_of::<SpanKey>();

/// What a span with samples costs beyond them, estimated: the map's entry,
/// its ids, and its list's header.
const SPAN_BYTES: usize = 128;

/// A span, as samples name it: its trace's id and its own, as bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SpanKey {
    pub trace_id: [u8; 16],
    pub span_id: [u8; 8],
}

impl SpanKey {
    /// From the ids as the collector shows them (32 and 16 hex digits, in
    /// any case); `None` for anything else.
    pub fn from_hex(trace_id: &str, span_id: &str) -> Option<Self> {
        Some(Self {
            trace_id: hex_id(trace_id)?,
            span_id: hex_id(span_id)?,
        })
    }
}

/// An id of `N` bytes from its `2 N` hex digits (in any case); `None` for
/// anything else, a sign included.
pub fn hex_id<const N: usize>(text: &str) -> Option<[u8; N]> {
    if text.len() != 2 * N || !text.bytes().all(|byte| byte.is_ascii_hexdigit()) {
        return None;
    }
    let mut id = [0; N];
    for (byte, digits) in id.iter_mut().zip(text.as_bytes().chunks_exact(2)) {
        *byte = u8::from_str_radix(std::str::from_utf8(digits).ok()?, 16).ok()?;
    }
    Some(id)
}

/// What an interned value is: shared behind an `Arc`, and weighed.
trait Internable: Hash + Eq {
    fn shared(&self) -> Arc<Self>;
    fn estimated_bytes(&self) -> usize;
}

impl Internable for str {
    fn shared(&self) -> Arc<str> {
        Arc::from(self)
    }

    fn estimated_bytes(&self) -> usize {
        self.len() + INTERNED_OVERHEAD_BYTES
    }
}

impl Internable for [u32] {
    fn shared(&self) -> Arc<[u32]> {
        Arc::from(self)
    }

    fn estimated_bytes(&self) -> usize {
        size_of_val(self) + INTERNED_OVERHEAD_BYTES
    }
}

/// Values kept once each, numbered, with how many hold each one; a value
/// goes when its last holder lets it go, and its number is used again.
struct Interned<T: ?Sized> {
    ids: HashMap<Arc<T>, u32>,
    slots: Vec<Slot<T>>,
    /// Numbers let go of, to be used again.
    free: Vec<u32>,
    /// The values' estimated bytes.
    bytes: usize,
}

struct Slot<T: ?Sized> {
    value: Option<Arc<T>>,
    holders: u64,
}

impl<T: ?Sized> Default for Interned<T> {
    fn default() -> Self {
        Self {
            ids: HashMap::default(),
            slots: Vec::new(),
            free: Vec::new(),
            bytes: 0,
        }
    }
}

impl<T: Internable + ?Sized> Interned<T> {
    /// Holds `value`: its number, and whether it is new.
    fn hold(&mut self, value: &T) -> (u32, bool) {
        if let Some(&id) = self.ids.get(value) {
            self.hold_again(id);
            return (id, false);
        }
        let shared = value.shared();
        let slot = Slot {
            value: Some(Arc::clone(&shared)),
            holders: 1,
        };
        let id = match self.free.pop() {
            Some(id) => {
                self.slots[id as usize] = slot;
                id
            }
            None => {
                self.slots.push(slot);
                u32::try_from(self.slots.len() - 1).unwrap_or(u32::MAX)
            }
        };
        self.ids.insert(shared, id);
        self.bytes += value.estimated_bytes();
        (id, true)
    }

    /// One more holder of a value held already.
    fn hold_again(&mut self, id: u32) {
        if let Some(slot) = self.slots.get_mut(id as usize) {
            slot.holders += 1;
        }
    }

    /// One holder fewer; the value, when that was its last.
    fn release(&mut self, id: u32) -> Option<Arc<T>> {
        let slot = self.slots.get_mut(id as usize)?;
        slot.holders = slot.holders.saturating_sub(1);
        if slot.holders > 0 {
            return None;
        }
        let value = slot.value.take()?;
        self.ids.remove(&*value);
        self.free.push(id);
        self.bytes -= value.estimated_bytes();
        Some(value)
    }

    fn get(&self, id: u32) -> Option<&Arc<T>> {
        self.slots.get(id as usize)?.value.as_ref()
    }
}

/// One sample of a span: its stack's number and its weight.
#[derive(Clone, Copy)]
struct Entry {
    stack: u32,
    weight: u64,
}

/// A span's samples, oldest first, and who sent them.
struct SpanSamples {
    /// The service that sent them, and the unit of their weights, as
    /// numbers of [`SampleStore::names`].
    service: u32,
    unit: u32,
    /// The sampling period of its profile, in nanoseconds; 0 unknown.
    period_ns: u64,
    samples: VecDeque<Entry>,
}

/// CPU samples, each kept with the span it was taken in, within
/// [`Limits::max_samples`] and [`Limits::max_sample_bytes`].
#[derive(Default)]
pub struct SampleStore {
    /// Function names, services and units.
    names: Interned<str>,
    /// Stacks, as numbers of `names`, from the root down.
    stacks: Interned<[u32]>,
    spans: HashMap<SpanKey, SpanSamples>,
    /// The span of each sample held, oldest first: evicting the oldest is
    /// taking the first here, then the first of its span's samples.
    arrival: VecDeque<SpanKey>,
    counts: SampleCounts,
}

/// What has been done to samples since the start.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SampleCounts {
    /// Samples that arrived, each a `Sample` of an OTLP profile whatever
    /// its weight, before any limit.
    pub received: u64,
    /// Samples dropped as they arrived: linked to no span.
    pub dropped_no_span: u64,
    /// Samples evicted, oldest first, to stay within the bounds.
    pub evicted: u64,
    /// Stacks cut to `limits::MAX_STACK_FRAMES`.
    pub stacks_cut: u64,
}

/// Some spans' samples added up by stack: the heaviest stacks, each as its
/// function names from the root down, and what was left out.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Folded {
    /// The heaviest stacks, heaviest first, each with its summed weight.
    pub stacks: Vec<(Vec<Arc<str>>, u64)>,
    /// The stacks past the bounds: how many, and their summed weight.
    pub rest: Option<(usize, u64)>,
    /// The samples read.
    pub samples: u64,
    /// The spans that have samples, of those asked about.
    pub spans: usize,
    /// The units the weights are counted in (`count`, `nanoseconds`),
    /// each once.
    pub units: Vec<Arc<str>>,
}

/// Some spans' samples as [`SampleStore::fold`] adds them up, and each
/// span's own share of each stack: for a profile whose samples say which
/// span they were taken in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BySpan {
    /// The same spans' samples added up by stack, as
    /// [`SampleStore::fold`] answers them.
    pub folded: Folded,
    /// The spans that have samples, in the order they were asked about.
    pub spans: Vec<SpanStacks>,
}

/// One span's samples, by the stacks of a [`Folded`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SpanStacks {
    pub span: SpanKey,
    /// The unit of the weights (`count`, `nanoseconds`).
    pub unit: Arc<str>,
    /// The sampling period of its profile, in nanoseconds; 0 unknown.
    pub period_ns: u64,
    /// Its samples by stack: those of the stacks summed into
    /// [`Folded::rest`] first, then the others in the order of
    /// [`Folded::stacks`].
    pub stacks: Vec<OnStack>,
}

/// A span's samples on one stack.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OnStack {
    /// The stack's place in [`Folded::stacks`]; `None` for the stacks
    /// past the bounds, summed into [`Folded::rest`].
    pub stack: Option<usize>,
    /// The samples stored, each as it arrived (one may weigh several).
    pub stored: u64,
    /// Their weights, summed.
    pub weight: u64,
}

impl SampleStore {
    /// Samples held.
    pub fn len(&self) -> usize {
        self.arrival.len()
    }

    pub fn is_empty(&self) -> bool {
        self.arrival.is_empty()
    }

    /// The estimated bytes held: the samples, the spans that have some,
    /// and each stack and name once.
    pub fn bytes(&self) -> usize {
        self.names.bytes
            + self.stacks.bytes
            + self.arrival.len() * SAMPLE_BYTES
            + self.spans.len() * SPAN_BYTES
    }

    pub fn counts(&self) -> SampleCounts {
        self.counts
    }

    /// Adds an export's samples (its names already cut to the length
    /// limit), then evicts the oldest while over a bound; how many it
    /// evicted.
    pub fn insert(&mut self, batch: &CpuSamples, limits: &Limits) -> u64 {
        self.counts.received += batch.samples.len() as u64 + batch.unlinked;
        self.counts.dropped_no_span += batch.unlinked;
        self.counts.stacks_cut += batch.stacks_cut;
        // The export's stacks, held as each is first used.
        let mut held: Vec<Option<u32>> = vec![None; batch.stacks.len()];
        for sample in &batch.samples {
            let at = sample.stack as usize;
            let stack = match held.get(at).copied().flatten() {
                Some(id) => {
                    self.stacks.hold_again(id);
                    id
                }
                None => {
                    let id = self.hold_stack(&batch.stacks[at], &batch.strings);
                    held[at] = Some(id);
                    id
                }
            };
            let key = SpanKey {
                trace_id: sample.trace_id,
                span_id: sample.span_id,
            };
            let record = self.spans.entry(key).or_insert_with(|| SpanSamples {
                service: self.names.hold(&batch.strings[sample.service as usize]).0,
                unit: self.names.hold(&batch.strings[sample.unit as usize]).0,
                period_ns: sample.period_ns,
                samples: VecDeque::new(),
            });
            record.samples.push_back(Entry {
                stack,
                weight: sample.weight,
            });
            self.arrival.push_back(key);
        }
        let mut evicted = 0;
        while self.len() > limits.max_samples || self.bytes() > limits.max_sample_bytes {
            if !self.evict_oldest() {
                break;
            }
            evicted += 1;
        }
        self.counts.evicted += evicted;
        evicted
    }

    /// Holds a stack of the export, given as its strings' places: holds
    /// its names too when it is new (a stack held already holds them).
    fn hold_stack(&mut self, frames: &[u32], strings: &[String]) -> u32 {
        let names: Vec<u32> = frames
            .iter()
            .map(|&name| self.names.hold(strings[name as usize].as_str()).0)
            .collect();
        let (id, new) = self.stacks.hold(names.as_slice());
        if !new {
            for name in names {
                self.names.release(name);
            }
        }
        id
    }

    /// Evicts the oldest sample, and its stack, its names and its span's
    /// record when it held them last; false when there is none.
    fn evict_oldest(&mut self) -> bool {
        let Some(key) = self.arrival.pop_front() else {
            return false;
        };
        let (oldest, emptied) = match self.spans.get_mut(&key) {
            Some(record) => {
                let oldest = record.samples.pop_front();
                (oldest, record.samples.is_empty())
            }
            None => (None, false),
        };
        if let Some(entry) = oldest
            && let Some(frames) = self.stacks.release(entry.stack)
        {
            for &name in frames.iter() {
                self.names.release(name);
            }
        }
        if emptied && let Some(gone) = self.spans.remove(&key) {
            self.names.release(gone.service);
            self.names.release(gone.unit);
        }
        true
    }

    /// The samples of `spans`, added up by stack: at most `max_stacks`
    /// stacks, heaviest first, written out in at most about `max_bytes` of
    /// names (the stack past which the answer would be longer, and every
    /// lighter one, are summed into [`Folded::rest`]).
    pub fn fold<'k>(
        &self,
        spans: impl IntoIterator<Item = &'k SpanKey>,
        max_stacks: usize,
        max_bytes: usize,
    ) -> Folded {
        self.fold_keeping(spans, max_stacks, max_bytes).0
    }

    /// The samples of `spans` as [`SampleStore::fold`] adds them up, and
    /// each span's samples on each of its stacks. The spans' entries are
    /// no more than their samples: bounded as the store's samples are.
    pub fn by_span(&self, spans: &[SpanKey], max_stacks: usize, max_bytes: usize) -> BySpan {
        let (folded, kept) = self.fold_keeping(spans, max_stacks, max_bytes);
        let places: HashMap<u32, usize> = kept
            .into_iter()
            .enumerate()
            .map(|(place, stack)| (stack, place))
            .collect();
        let by_span = spans
            .iter()
            .filter_map(|key| {
                let record = self.spans.get(key)?;
                let mut on: BTreeMap<Option<usize>, OnStack> = BTreeMap::new();
                for entry in &record.samples {
                    let stack = places.get(&entry.stack).copied();
                    let on_stack = on.entry(stack).or_insert(OnStack {
                        stack,
                        stored: 0,
                        weight: 0,
                    });
                    on_stack.stored += 1;
                    on_stack.weight = on_stack.weight.saturating_add(entry.weight);
                }
                Some(SpanStacks {
                    span: *key,
                    unit: self.names.get(record.unit).cloned().unwrap_or_default(),
                    period_ns: record.period_ns,
                    stacks: on.into_values().collect(),
                })
            })
            .collect();
        BySpan {
            folded,
            spans: by_span,
        }
    }

    /// [`SampleStore::fold`], and the number of each stack it kept, in the
    /// order of [`Folded::stacks`].
    fn fold_keeping<'k>(
        &self,
        spans: impl IntoIterator<Item = &'k SpanKey>,
        max_stacks: usize,
        max_bytes: usize,
    ) -> (Folded, Vec<u32>) {
        let mut by_stack: HashMap<u32, u64> = HashMap::default();
        let mut units: Vec<u32> = Vec::new();
        let (mut samples, mut with_samples) = (0, 0);
        for key in spans {
            let Some(record) = self.spans.get(key) else {
                continue;
            };
            with_samples += 1;
            if !units.contains(&record.unit) {
                units.push(record.unit);
            }
            for entry in &record.samples {
                samples += 1;
                let weight = by_stack.entry(entry.stack).or_default();
                *weight = weight.saturating_add(entry.weight);
            }
        }
        let mut heaviest: Vec<(u32, u64)> = by_stack.into_iter().collect();
        heaviest.sort_unstable_by_key(|&(stack, weight)| (std::cmp::Reverse(weight), stack));
        // Room for the line of the rest, when there is one.
        let kept_at_most = if heaviest.len() > max_stacks {
            max_stacks.saturating_sub(1)
        } else {
            max_stacks
        };
        let mut stacks = Vec::new();
        let mut kept = Vec::new();
        let mut rest: Option<(usize, u64)> = None;
        let mut bytes = 0;
        for (stack, weight) in heaviest {
            let names: Vec<Arc<str>> = match (rest, self.stacks.get(stack)) {
                (None, Some(frames)) if stacks.len() < kept_at_most => frames
                    .iter()
                    .filter_map(|&name| self.names.get(name).cloned())
                    .collect(),
                _ => Vec::new(),
            };
            let line_bytes: usize = names.iter().map(|name| name.len() + 1).sum::<usize>() + 20;
            if !names.is_empty() && bytes + line_bytes <= max_bytes {
                bytes += line_bytes;
                stacks.push((names, weight));
                kept.push(stack);
            } else {
                let (count, summed) = rest.get_or_insert((0, 0));
                *count += 1;
                *summed = summed.saturating_add(weight);
            }
        }
        let folded = Folded {
            stacks,
            rest,
            samples,
            spans: with_samples,
            units: units
                .into_iter()
                .filter_map(|unit| self.names.get(unit).cloned())
                .collect(),
        };
        (folded, kept)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::otlp_profiles::LinkedSample;

    /// Samples of spans 1 to `spans` of trace 1, one each, in turn: sample
    /// `i` on stack `i % 2` (`main;a` or `main;b`), weighing `i + 1`.
    fn batch(first: u8, count: u8) -> CpuSamples {
        CpuSamples {
            strings: ["svc", "count", "main", "a", "b"]
                .map(str::to_owned)
                .to_vec(),
            stacks: vec![vec![2, 3], vec![2, 4]],
            samples: (first..first + count)
                .map(|i| LinkedSample {
                    trace_id: [1; 16],
                    span_id: [i; 8],
                    service: 0,
                    unit: 1,
                    stack: u32::from(i % 2),
                    weight: u64::from(i) + 1,
                    period_ns: 0,
                })
                .collect(),
            unlinked: 0,
            stacks_cut: 0,
        }
    }

    fn key(span: u8) -> SpanKey {
        SpanKey {
            trace_id: [1; 16],
            span_id: [span; 8],
        }
    }

    fn text(folded: &Folded) -> Vec<(String, u64)> {
        folded
            .stacks
            .iter()
            .map(|(names, weight)| (names.join(";"), *weight))
            .collect()
    }

    #[test]
    fn samples_add_up_by_stack_for_the_spans_asked_about() {
        let mut store = SampleStore::default();
        store.insert(&batch(0, 6), &Limits::default());
        let folded = store.fold(&[key(0), key(1), key(2), key(9)], 100, 1 << 20);
        assert_eq!(
            text(&folded),
            [("main;a".to_owned(), 1 + 3), ("main;b".to_owned(), 2)]
        );
        assert_eq!((folded.samples, folded.spans), (3, 3));
        assert_eq!(folded.units, [Arc::<str>::from("count")]);
        assert_eq!(folded.rest, None);
    }

    #[test]
    fn the_oldest_go_first_and_names_and_stacks_with_their_last_sample() {
        let limits = Limits {
            max_samples: 4,
            ..Limits::default()
        };
        let mut store = SampleStore::default();
        assert_eq!(store.insert(&batch(0, 3), &limits), 0);
        assert_eq!(store.insert(&batch(3, 3), &limits), 2, "two over the bound");
        assert_eq!(store.len(), 4);
        assert_eq!(store.counts().evicted, 2);
        let all: Vec<SpanKey> = (0..6).map(key).collect();
        assert_eq!(store.fold(&all, 100, 1 << 20).spans, 4, "spans 2 to 5");
        assert!(store.fold(&[key(1)], 100, 1 << 20).stacks.is_empty());

        // Past a budget of bytes that holds no sample, everything goes,
        // and with the last sample, every stack and name.
        let none = Limits {
            max_sample_bytes: 1,
            ..Limits::default()
        };
        store.insert(&batch(6, 1), &none);
        assert!(store.is_empty());
        assert_eq!(
            (store.bytes(), store.spans.len(), store.stacks.ids.len()),
            (0, 0, 0)
        );
        assert_eq!(store.names.ids.len(), 0);
    }

    #[test]
    fn an_answer_keeps_the_heaviest_stacks_and_sums_the_rest() {
        let mut store = SampleStore::default();
        store.insert(&batch(0, 6), &Limits::default());
        let all: Vec<SpanKey> = (0..6).map(key).collect();
        // main;b weighs 2 + 4 + 6, main;a 1 + 3 + 5.
        let one = store.fold(&all, 1, 1 << 20);
        assert!(one.stacks.is_empty(), "one stack's room is the rest's line");
        assert_eq!(one.rest, Some((2, 21)));
        let two = store.fold(&all, 2, 1 << 20);
        assert_eq!(
            text(&two),
            [("main;b".to_owned(), 12), ("main;a".to_owned(), 9)]
        );
        let short = store.fold(&all, 2, 30);
        assert_eq!(text(&short), [("main;b".to_owned(), 12)], "bytes bound it");
        assert_eq!(short.rest, Some((1, 9)));
    }

    #[test]
    fn each_spans_share_of_a_stack_adds_up_to_the_stacks_weight() {
        let mut store = SampleStore::default();
        store.insert(&batch(0, 6), &Limits::default());
        // Spans 0 and 1 take a second sample each, on the same stacks.
        store.insert(&batch(0, 2), &Limits::default());
        let all: Vec<SpanKey> = (0..6).map(key).collect();
        let on = |stack, stored, weight| OnStack {
            stack,
            stored,
            weight,
        };

        let both = store.by_span(&all, 2, 1 << 20);
        assert_eq!(both.folded, store.fold(&all, 2, 1 << 20));
        assert_eq!(
            text(&both.folded),
            [
                ("main;b".to_owned(), 2 + 2 + 4 + 6),
                ("main;a".to_owned(), 1 + 1 + 3 + 5)
            ]
        );
        assert_eq!(both.spans.len(), 6);
        assert_eq!(both.spans[0].span, key(0));
        assert_eq!(both.spans[0].stacks, [on(Some(1), 2, 2)]);
        assert_eq!(both.spans[1].stacks, [on(Some(0), 2, 4)]);
        assert_eq!(both.spans[5].stacks, [on(Some(0), 1, 6)]);
        assert_eq!(&*both.spans[0].unit, "count");
        for (place, (_, weight)) in both.folded.stacks.iter().enumerate() {
            let shares: u64 = both
                .spans
                .iter()
                .flat_map(|span| &span.stacks)
                .filter(|share| share.stack == Some(place))
                .map(|share| share.weight)
                .sum();
            assert_eq!(shares, *weight, "stack {place}");
        }

        // Past the bytes of one line, main;a is the rest's.
        let short = store.by_span(&all, 2, 30);
        assert_eq!(short.folded.rest, Some((1, 10)));
        assert_eq!(short.spans[0].stacks, [on(None, 2, 2)]);
        assert_eq!(short.spans[1].stacks, [on(Some(0), 2, 4)]);
        assert!(store.by_span(&[key(9)], 2, 1 << 20).spans.is_empty());
    }

    #[test]
    fn ids_are_read_from_hex_of_their_length_only() {
        assert_eq!(hex_id::<2>("0aFf"), Some([0x0a, 0xff]));
        for bad in ["0af", "0aff0", "+aff", "0g00", "éa"] {
            assert_eq!(hex_id::<2>(bad), None, "{bad:?}");
        }
        let key = SpanKey::from_hex(&"07".repeat(16), &"09".repeat(8));
        assert_eq!(
            key,
            Some(SpanKey {
                trace_id: [7; 16],
                span_id: [9; 8]
            })
        );
    }
}

//! Function names for the sampler's raw stacks, each address resolved once:
//! a service's stacks repeat the same few thousand addresses, and resolving
//! one reads debug information.

use std::collections::HashMap;
use std::sync::Arc;

use super::otlp::Frames;

/// The names found so far, by instruction address. Several names for one
/// address are functions inlined there, innermost first.
#[derive(Default)]
pub(crate) struct Symbols {
    by_address: HashMap<usize, Vec<Arc<str>>>,
}

/// The sampler's own signal handler, which every raw stack starts with:
/// it and the frame after it (the kernel's trampoline) are not the
/// program's.
const SIGNAL_HANDLER: &str = "perf_signal_handler";

impl Symbols {
    /// The names of `frames`, leaf first, without the sampler's own.
    pub(crate) fn stack(&mut self, frames: &[backtrace::Frame]) -> Frames {
        let mut names: Vec<Arc<str>> = Vec::with_capacity(frames.len());
        let mut skip_next = false;
        for frame in frames {
            if skip_next {
                skip_next = false;
                continue;
            }
            let found = self.names(frame);
            if found.iter().any(|name| name.ends_with(SIGNAL_HANDLER)) {
                // What came before it was the handler's own callees.
                names.clear();
                skip_next = true;
                continue;
            }
            names.extend(found.iter().cloned());
        }
        names.into()
    }

    fn names(&mut self, frame: &backtrace::Frame) -> &[Arc<str>] {
        let address = frame.ip() as usize;
        self.by_address.entry(address).or_insert_with(|| {
            let mut names = Vec::new();
            backtrace::resolve_frame(frame, |symbol| {
                // `{:#}`: demangled, without the hash suffix.
                let name = symbol
                    .name()
                    .map_or_else(|| format!("{address:#x}"), |name| format!("{name:#}"));
                names.push(Arc::from(name));
            });
            if names.is_empty() {
                names.push(Arc::from(format!("{address:#x}")));
            }
            names
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[inline(never)]
    fn a_function_with_a_name_to_find() -> Vec<backtrace::Frame> {
        let mut frames = Vec::new();
        backtrace::trace(|frame| {
            frames.push(frame.clone());
            true
        });
        frames
    }

    #[test]
    fn a_stack_is_named_leaf_first_and_each_address_resolved_once() {
        let frames = a_function_with_a_name_to_find();
        let mut symbols = Symbols::default();
        let names = symbols.stack(&frames);
        let this = names
            .iter()
            .position(|name| name.contains("a_function_with_a_name_to_find"))
            .unwrap_or_else(|| panic!("not named: {names:?}"));
        let caller = names
            .iter()
            .position(|name| name.contains("a_stack_is_named_leaf_first"))
            .unwrap_or_else(|| panic!("caller not named: {names:?}"));
        assert!(this < caller, "leaf first: {names:?}");
        let resolved = symbols.by_address.len();
        symbols.stack(&frames);
        assert_eq!(symbols.by_address.len(), resolved);
    }
}

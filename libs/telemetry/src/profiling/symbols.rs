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

/// Where the runtime polls a task: the frames below it (the worker's loop,
/// the scheduler) are the same for every span, and the sampler keeps only
/// the 128 frames nearest the leaf, so they would cut stacks off at
/// random depths and split one function's samples across many towers. A
/// stack starts at the task's own future.
const TASK_POLL: &str = "tokio::runtime::task::core::Core<T,S>::poll";

impl Symbols {
    /// The names of `frames`, leaf first, without the sampler's own, and
    /// from the task's future up when a tokio runtime polls it.
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
            if found.iter().any(|name| name.starts_with(TASK_POLL)) {
                break;
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
    fn a_tasks_stack_starts_at_its_own_future_not_at_the_runtimes_loop() {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .build()
            .expect("a runtime");
        let task = runtime.spawn(async { a_function_with_a_name_to_find() });
        let frames = runtime.block_on(task).expect("the task");
        let mut symbols = Symbols::default();
        let names = symbols.stack(&frames);
        assert!(
            names
                .iter()
                .any(|name| name.contains("a_function_with_a_name_to_find")),
            "{names:?}"
        );
        assert!(
            !names
                .iter()
                .any(|name| name.contains("tokio::runtime::scheduler")),
            "the runtime's own frames are cut: {names:?}"
        );
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

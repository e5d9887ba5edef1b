//! The one view of a span that the timing analyses read, and the rule of
//! which spans their parents wait for.
//!
//! A span reaches an analysis in three shapes: the collector's own record
//! ([`crate::model::Span`]), Jaeger's JSON ([`crate::jaeger::Trace`]), and
//! the lean reading of a recorded file ([`crate::recording`]). Each is
//! adapted once into [`SpanView`]s (`Span::view`, `Trace::views`, and the
//! recording's own); the critical path ([`crate::critical_path`]) and the
//! analysis across traces ([`crate::aggregate`]) read nothing else, so the
//! rules below are written once, whatever the shape.

use crate::jaeger::RefType;
use crate::model::Kind;

/// What the timing analyses know of one span, borrowed from it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SpanView<'a> {
    pub span_id: &'a str,
    /// The span it names as its parent: the parent's id, and the
    /// reference's type where the shape states one. Jaeger's shape does
    /// (its first reference); an OTLP parent does not, and [`reference`]
    /// says what it is.
    pub parent: Option<(&'a str, Option<RefType>)>,
    pub kind: Kind,
    /// Unix microseconds.
    pub start_us: u64,
    pub end_us: u64,
    pub service: &'a str,
    /// The span's name.
    pub operation: &'a str,
    /// Its own time on a CPU, in nanoseconds, where its telemetry recorded
    /// it ([`crate::cpu_time`]).
    pub cpu_time_ns: Option<u64>,
}

/// Whether a span merely follows from its parent: a consumer under a
/// producer. The producer hands a message over and goes on; it does not
/// wait for whoever consumes it.
pub fn follows_from(child: Kind, parent: Kind) -> bool {
    child == Kind::Consumer && parent == Kind::Producer
}

/// How a span refers to its parent: as its shape states, or, where it
/// states no type (an OTLP parent), as Jaeger's shape writes it:
/// `FOLLOWS_FROM` for a span that [`follows_from`] its parent, `CHILD_OF`
/// otherwise.
pub fn reference(stated: Option<RefType>, child: Kind, parent: Kind) -> RefType {
    stated.unwrap_or(if follows_from(child, parent) {
        RefType::FollowsFrom
    } else {
        RefType::ChildOf
    })
}

/// Whether a parent waits for its child: a `CHILD_OF` child that does not
/// merely follow from it. A Jaeger trace written elsewhere may refer to a
/// consumer's producer as `CHILD_OF`: the producer still does not wait.
pub fn blocks_parent(reference: RefType, child: Kind, parent: Kind) -> bool {
    reference == RefType::ChildOf && !follows_from(child, parent)
}

#[cfg(test)]
mod tests {
    use super::*;

    const KINDS: [Kind; 6] = [
        Kind::Unspecified,
        Kind::Internal,
        Kind::Server,
        Kind::Client,
        Kind::Producer,
        Kind::Consumer,
    ];

    #[test]
    fn only_a_consumer_under_a_producer_follows_from_it() {
        for child in KINDS {
            for parent in KINDS {
                assert_eq!(
                    follows_from(child, parent),
                    (child, parent) == (Kind::Consumer, Kind::Producer),
                    "{child:?} under {parent:?}"
                );
            }
        }
    }

    #[test]
    fn a_parent_of_no_stated_type_is_referred_to_as_jaegers_shape_writes_it() {
        assert_eq!(
            reference(None, Kind::Consumer, Kind::Producer),
            RefType::FollowsFrom
        );
        assert_eq!(
            reference(None, Kind::Server, Kind::Client),
            RefType::ChildOf
        );
        assert_eq!(
            reference(None, Kind::Producer, Kind::Consumer),
            RefType::ChildOf,
            "a producer under a consumer is an ordinary child"
        );
    }

    #[test]
    fn a_stated_reference_is_kept_whatever_the_kinds() {
        for stated in [RefType::ChildOf, RefType::FollowsFrom] {
            assert_eq!(
                reference(Some(stated), Kind::Consumer, Kind::Producer),
                stated
            );
            assert_eq!(reference(Some(stated), Kind::Server, Kind::Client), stated);
        }
    }

    #[test]
    fn a_parent_waits_for_its_child_of_children_but_not_for_its_consumers() {
        assert!(blocks_parent(RefType::ChildOf, Kind::Server, Kind::Client));
        assert!(blocks_parent(
            RefType::ChildOf,
            Kind::Internal,
            Kind::Producer
        ));
        assert!(
            !blocks_parent(RefType::ChildOf, Kind::Consumer, Kind::Producer),
            "stated CHILD_OF, as Jaeger writes it"
        );
        assert!(!blocks_parent(
            RefType::FollowsFrom,
            Kind::Server,
            Kind::Client
        ));
        let unstated = reference(None, Kind::Consumer, Kind::Producer);
        assert!(!blocks_parent(unstated, Kind::Consumer, Kind::Producer));
    }
}

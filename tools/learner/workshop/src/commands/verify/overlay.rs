//! Another correct design is an overlay on its lab's reference solution: it
//! depends on the reference (`reference = { package = "labNN-solution",
//! path = "../.." }`) and writes out only what its design changes, so that
//! a reader sees the difference and nothing else.
//!
//! The rule, exactly: no item of the alternative's library (a function, a
//! type, an impl block, a constant, a static, a trait, a macro) is a
//! reference item word for word, doc comments and comments aside, unless it
//! names something the alternative replaces. Such an item cannot be taken
//! from the reference, whose copy would call or hold the reference's
//! version: `checkout` calling the alternative's own `look_up`, `Order`
//! holding the alternative's own `CardNumber`, the struct whose impl the
//! alternative writes anew. What is replaced: every item that is not word
//! for word the reference's, the type of every such impl block, and every
//! repeat that names something replaced (until no more are found). "Names"
//! is lexical: any identifier in the item.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use proc_macro2::{Delimiter, Group, TokenStream, TokenTree};
use quote::ToTokens;

use crate::catalog::{Lab, Workspace};
use crate::checksums::files_under;
use workshop::members::{Member, Members, Role};

/// Where the lab's alternatives are not thin overlays on its reference.
pub fn problems(ws: &Workspace, lab: &Lab, members: &Members) -> Vec<String> {
    let reference = lab.solution_package();
    // A lab without a reference solution is reported where manifests are.
    let Some(reference_dir) = members.get(&reference).and_then(source_dir) else {
        return Vec::new();
    };
    let reference_items = match items_in(ws, &reference_dir) {
        Ok(items) => items,
        Err(err) => return vec![format!("{err:#}")],
    };
    let mut problems = Vec::new();
    for (member, role) in members.of_lab(&lab.id()) {
        if !matches!(role, Role::Alternative(_)) {
            continue;
        }
        if !member.uses(&reference) {
            problems.push(format!(
                "{} does not depend on the lab's reference solution: an alternative is an \
                 overlay on it (`reference = {{ package = \"{reference}\", path = \"../..\" }}`) \
                 that writes out only what its design changes",
                member.dir.display()
            ));
        }
        let Some(dir) = source_dir(member) else {
            continue;
        };
        match items_in(ws, &dir) {
            Ok(items) => problems.extend(needless_repeats(&items, &reference_items).iter().map(
                |item| {
                    format!(
                        "{}: the {} is the reference's word for word and names nothing this \
                         design replaces: take it from the reference (`pub use reference::…`, \
                         made `pub` there if need be) rather than repeat it",
                        item.file.display(),
                        item.what
                    )
                },
            )),
            Err(err) => problems.push(format!("{err:#}")),
        }
    }
    problems
}

/// One item of a crate's sources, as compared.
struct Item {
    /// How a message names it: fn `price`, impl for `OrderError`.
    what: String,
    /// What the item defines: its name, or an impl block's type.
    name: String,
    /// Its tokens without doc comments (comments are no tokens).
    text: String,
    /// Every identifier in it.
    idents: BTreeSet<String>,
    /// The file it is in, relative to the workspace root.
    file: PathBuf,
}

/// The items of `design` that repeat one of `reference` word for word and
/// name nothing `design` replaces.
fn needless_repeats<'a>(design: &'a [Item], reference: &[Item]) -> Vec<&'a Item> {
    let reference: BTreeSet<&str> = reference.iter().map(|item| item.text.as_str()).collect();
    let (mut repeats, written): (Vec<&Item>, Vec<&Item>) = design
        .iter()
        .partition(|item| reference.contains(item.text.as_str()));
    let mut replaced: BTreeSet<&str> = written.iter().map(|item| item.name.as_str()).collect();
    loop {
        // A repeat that names something replaced calls or holds the
        // design's own version, not the reference's: it is replaced too.
        let (own, needless): (Vec<&Item>, Vec<&Item>) = repeats.into_iter().partition(|item| {
            item.idents
                .iter()
                .any(|ident| replaced.contains(ident.as_str()))
        });
        if own.is_empty() {
            return needless;
        }
        replaced.extend(own.iter().map(|item| item.name.as_str()));
        repeats = needless;
    }
}

/// The folder of a crate's library sources: where its root file lies.
fn source_dir(member: &Member) -> Option<PathBuf> {
    member.lib()?.src_path.parent().map(Path::to_path_buf)
}

/// Every item in the Rust files under `dir` (relative to the workspace
/// root), those of inline modules included.
fn items_in(ws: &Workspace, dir: &Path) -> Result<Vec<Item>> {
    let mut items = Vec::new();
    for file in files_under(&ws.root, dir)? {
        if file.extension().is_none_or(|ext| ext != "rs") {
            continue;
        }
        let source = std::fs::read_to_string(ws.root.join(&file))
            .with_context(|| format!("cannot read {}", file.display()))?;
        let parsed = syn::parse_file(&source)
            .with_context(|| format!("{} does not parse as Rust", file.display()))?;
        collect(&parsed.items, &file, &mut items);
    }
    Ok(items)
}

fn collect(items: &[syn::Item], file: &Path, into: &mut Vec<Item>) {
    for item in items {
        let (kind, name) = match item {
            syn::Item::Mod(module) => {
                if let Some((_, inner)) = &module.content {
                    collect(inner, file, into);
                }
                continue;
            }
            syn::Item::Fn(f) => ("fn", f.sig.ident.to_string()),
            syn::Item::Struct(s) => ("struct", s.ident.to_string()),
            syn::Item::Enum(e) => ("enum", e.ident.to_string()),
            syn::Item::Union(u) => ("union", u.ident.to_string()),
            syn::Item::Const(c) => ("const", c.ident.to_string()),
            syn::Item::Static(s) => ("static", s.ident.to_string()),
            syn::Item::Type(t) => ("type", t.ident.to_string()),
            syn::Item::Trait(t) => ("trait", t.ident.to_string()),
            syn::Item::TraitAlias(t) => ("trait", t.ident.to_string()),
            syn::Item::Impl(block) => ("impl for", type_name(&block.self_ty)),
            syn::Item::Macro(m) => match &m.ident {
                Some(ident) => ("macro", ident.to_string()),
                None => ("macro call", path_name(&m.mac.path)),
            },
            // Imports and foreign blocks: nothing a design writes out.
            _ => continue,
        };
        let tokens = without_docs(item.to_token_stream());
        let mut idents = BTreeSet::new();
        idents_in(&tokens, &mut idents);
        into.push(Item {
            what: format!("{kind} `{name}`"),
            name,
            text: tokens.to_string(),
            idents,
            file: file.to_path_buf(),
        });
    }
}

/// The name of an impl block's type: `Telemetry` for `impl Drop for
/// Telemetry`, `Seats` for `impl<'a> From<&'a str> for Seats<'a>`.
fn type_name(ty: &syn::Type) -> String {
    match ty {
        syn::Type::Path(path) => path_name(&path.path),
        syn::Type::Reference(reference) => type_name(&reference.elem),
        other => other.to_token_stream().to_string(),
    }
}

fn path_name(path: &syn::Path) -> String {
    path.segments
        .last()
        .map(|segment| segment.ident.to_string())
        .unwrap_or_default()
}

/// `tokens` without `#[doc = "…"]` attributes, which doc comments become.
fn without_docs(tokens: TokenStream) -> TokenStream {
    let mut kept: Vec<TokenTree> = Vec::new();
    for tree in tokens {
        match tree {
            TokenTree::Group(group) => {
                if group.delimiter() == Delimiter::Bracket
                    && is_doc(&group)
                    && let Some(start) = attribute_start(&kept)
                {
                    kept.truncate(start);
                    continue;
                }
                let mut inner = Group::new(group.delimiter(), without_docs(group.stream()));
                inner.set_span(group.span());
                kept.push(TokenTree::Group(inner));
            }
            other => kept.push(other),
        }
    }
    kept.into_iter().collect()
}

/// Whether a bracketed group is the body of a doc attribute: `doc = "…"`.
fn is_doc(group: &Group) -> bool {
    matches!(group.stream().into_iter().next(), Some(TokenTree::Ident(ident)) if ident == "doc")
}

/// Where the attribute whose bracket comes next starts in `kept`: at its
/// `#`, or the `#` of `#!`.
fn attribute_start(kept: &[TokenTree]) -> Option<usize> {
    let is = |index: usize, c: char| matches!(kept.get(index), Some(TokenTree::Punct(punct)) if punct.as_char() == c);
    let last = kept.len().checked_sub(1)?;
    if is(last, '#') {
        Some(last)
    } else if last >= 1 && is(last, '!') && is(last - 1, '#') {
        Some(last - 1)
    } else {
        None
    }
}

fn idents_in(tokens: &TokenStream, into: &mut BTreeSet<String>) {
    for tree in tokens.clone() {
        match tree {
            TokenTree::Ident(ident) => {
                into.insert(ident.to_string());
            }
            TokenTree::Group(group) => idents_in(&group.stream(), into),
            TokenTree::Punct(_) | TokenTree::Literal(_) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn items(source: &str) -> Vec<Item> {
        let mut items = Vec::new();
        collect(
            &syn::parse_file(source).unwrap().items,
            Path::new("lib.rs"),
            &mut items,
        );
        items
    }

    fn needless(design: &str, reference: &str) -> Vec<String> {
        let (design, reference) = (items(design), items(reference));
        needless_repeats(&design, &reference)
            .iter()
            .map(|item| item.what.clone())
            .collect()
    }

    const REFERENCE: &str = r#"
        /// Some seats.
        pub struct Ticket { pub seats: u32 }
        pub struct Card(String);
        impl Card {
            pub fn last4(&self) -> &str { &self.0[self.0.len() - 4..] }
        }
        pub struct Order { pub card: Card, pub tickets: Vec<Ticket> }
        fn price(tickets: &[Ticket]) -> u32 { tickets.iter().map(|t| t.seats).sum() }
        pub fn place(order: &Order) -> u32 { price(&order.tickets) }
    "#;

    #[test]
    fn a_copy_with_other_comments_is_still_a_copy() {
        let design = r#"
            // Copied, with other words around it.
            /// Seats, several.
            pub struct Ticket { pub seats: u32 }
            pub fn place(order: &Order) -> u32 { order.tickets.len() as u32 }
        "#;
        assert_eq!(needless(design, REFERENCE), ["struct `Ticket`"]);
    }

    #[test]
    fn a_repeat_that_calls_or_holds_what_is_replaced_is_the_designs_own() {
        // `price` is replaced, so `place`, which calls it, comes along.
        let design = r#"
            fn price(tickets: &[Ticket]) -> u32 { tickets.len() as u32 }
            pub fn place(order: &Order) -> u32 { price(&order.tickets) }
        "#;
        assert!(needless(design, REFERENCE).is_empty());
        // `Card` gets an impl of its own, so the struct and `Order`, which
        // holds it, are the design's own; `Ticket` is not.
        let design = r#"
            pub struct Card(String);
            impl Card {
                pub fn last4(&self) -> &str { "****" }
            }
            pub struct Order { pub card: Card, pub tickets: Vec<Ticket> }
            pub struct Ticket { pub seats: u32 }
        "#;
        assert_eq!(needless(design, REFERENCE), ["struct `Ticket`"]);
    }

    #[test]
    fn inline_modules_are_looked_into() {
        let design = "mod inner { pub struct Ticket { pub seats: u32 } }";
        assert_eq!(needless(design, REFERENCE), ["struct `Ticket`"]);
    }

    #[test]
    fn doc_attributes_are_dropped_and_nothing_else() {
        let item: syn::Item = syn::parse_str("/// Said.\n#[derive(Debug)]\nstruct S;").unwrap();
        let text = without_docs(item.to_token_stream()).to_string();
        assert!(!text.contains("doc"), "{text}");
        assert!(text.contains("derive"), "{text}");
    }
}

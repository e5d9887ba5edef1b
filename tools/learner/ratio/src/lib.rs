//! Business statements versus admin statements.
//!
//! Raymond Hettinger's measure of good code: the ratio of the code that does
//! the business of a function to the "admin" code around it (logging,
//! timing, instrumentation plumbing). Good observability tools raise it: one
//! `#[instrument(err)]` replaces a start log, an end log, a timer and an
//! error log at every `?`.
//!
//! It counts **statements**, not lines, so that the layout changes nothing:
//! rustfmt, a statement split over lines or joined onto one, a match arm or
//! closure body with or without braces all give the same figures. The
//! statements of a function body are every statement of every block in it
//! (the body's, an `if`'s, a loop's, a `match` arm's, a closure's, an
//! `async` block's), and every `match` arm body or closure body that is not
//! a block (rustfmt wraps such a body in braces, or unwraps it: either way
//! it is one statement). A statement's *own* code is what is not inside a
//! statement nested in it. A statement is:
//!
//! - **admin** when its own code holds admin code: a logging or tracing
//!   macro (`trace!` … `error!`, `event!`, `span!`, `info_span!` …, and
//!   `metrics` macros), span plumbing (`.enter()`, `.entered()`,
//!   `.in_current_span()`, `.instrument(…)`, `span.in_scope(…)`,
//!   `Span::current()`, a span's `.record(…)`, `actions::run`), manual
//!   timing (`Instant::now()`, `.elapsed()`, a value computed only from
//!   them), or a call of a helper that only does these (below);
//! - **business** when its own code holds anything else (punctuation
//!   aside). A statement that holds both counts once in each column: a log
//!   call tucked into a business statement is still a log call.
//!
//! An `#[instrument]` or `#[action]` attribute on the function counts as one
//! admin statement, however its arguments are laid out.
//!
//! Other names for admin code are followed, across every file measured
//! together ([`Rules::with_aliases_in`]): renaming imports
//! (`use tracing::info as note;`), `macro_rules!` wrappers of admin macros,
//! helper functions (a function whose statements are all admin, or one that
//! is handed work to run, a closure or a future, and is at least half admin),
//! and timer types (a type that logs when dropped, or holds an `Instant` and
//! reads or logs it in a function of its own).
//!
//! A nested function is measured on its own, not as part of the one around
//! it. Extra admin macros and call paths can be configured ([`Rules`]).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use proc_macro2::{LineColumn, TokenStream, TokenTree};
use quote::ToTokens;
use serde::Serialize;
use syn::spanned::Spanned;
use syn::visit::{self, Visit};

/// From the start of the first token of some syntax to the end of its last.
type Range = (LineColumn, LineColumn);

/// What counts as admin code.
#[derive(Clone, Debug)]
pub struct Rules {
    /// Macros, by the last segment of their path.
    pub macros: BTreeSet<String>,
    /// Functions called by path, matched on their last segments
    /// (`Instant::now` matches `std::time::Instant::now`).
    pub paths: BTreeSet<String>,
    /// Attributes on a function, by the last segment of their path.
    pub attributes: BTreeSet<String>,
    /// Types whose values only serve admin code (timers): naming one in a
    /// body (`Timer::start()`, `Timer { .. }`) is admin.
    pub types: BTreeSet<String>,
    /// Methods that are admin wherever they are called, by name (the
    /// helpers [`Rules::with_aliases_in`] finds).
    pub methods: BTreeSet<String>,
}

impl Default for Rules {
    fn default() -> Self {
        let set = |items: &[&str]| items.iter().map(|s| (*s).to_owned()).collect();
        Self {
            macros: set(&[
                "trace",
                "debug",
                "info",
                "warn",
                "error",
                "event",
                "span",
                "trace_span",
                "debug_span",
                "info_span",
                "warn_span",
                "error_span",
                "log",
                "counter",
                "gauge",
                "histogram",
                "describe_counter",
                "describe_gauge",
                "describe_histogram",
            ]),
            paths: set(&[
                "Instant::now",
                "Span::current",
                "SystemTime::now",
                // An action's span, as `#[action]` makes it: the closure's
                // statements are the business, the call around them admin.
                "actions::run",
                "actions::run_async",
                "actions::begin",
            ]),
            attributes: set(&["instrument", "action"]),
            types: set(&["Instant"]),
            methods: BTreeSet::new(),
        }
    }
}

/// Span methods that are plumbing wherever they are called.
const ADMIN_METHODS: [&str; 4] = ["enter", "entered", "in_current_span", "elapsed"];
/// Methods that are plumbing on an admin value: `start.elapsed().as_millis()`.
const CONVERSIONS: [&str; 8] = [
    "as_millis",
    "as_micros",
    "as_nanos",
    "as_secs",
    "as_secs_f64",
    "as_secs_f32",
    "to_string",
    "into",
];
/// What a helper's parameter is when it is handed work to run.
const WORK: [&str; 8] = [
    "Fn",
    "FnMut",
    "FnOnce",
    "AsyncFn",
    "AsyncFnMut",
    "AsyncFnOnce",
    "Future",
    "IntoFuture",
];

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FunctionReport {
    pub name: String,
    pub line: usize,
    /// Business statements.
    pub business: usize,
    /// Admin statements, attributes included.
    pub admin: usize,
    pub ratio: Option<f64>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FileReport {
    pub path: String,
    pub business: usize,
    pub admin: usize,
    pub ratio: Option<f64>,
    pub functions: Vec<FunctionReport>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Report {
    pub files: Vec<FileReport>,
    pub business: usize,
    pub admin: usize,
    pub ratio: Option<f64>,
}

/// Business statements per admin statement; `None` (infinite) with no admin.
pub fn ratio(business: usize, admin: usize) -> Option<f64> {
    (admin > 0).then(|| business as f64 / admin as f64)
}

/// Every function of one file's source.
pub fn analyze_source(source: &str, rules: &Rules) -> syn::Result<Vec<FunctionReport>> {
    let file = syn::parse_file(source)?;
    Ok(analyze_file(&file, &rules.with_aliases_in([&file])))
}

fn analyze_file(file: &syn::File, rules: &Rules) -> Vec<FunctionReport> {
    let mut finder = FunctionFinder::default();
    finder.visit_file(file);
    let mut reports: Vec<FunctionReport> = finder
        .functions
        .iter()
        .map(|function| measure(function, rules))
        .collect();
    reports.sort_by_key(|r| r.line);
    reports
}

impl Rules {
    /// These rules, plus the other names that `files` give admin code:
    ///
    /// - a renaming import (`use tracing::info as note;` makes `note!` a
    ///   log line, `use std::time::Instant as Clock;` makes `Clock::now()` a
    ///   timer);
    /// - a `macro_rules!` whose expansion calls an admin macro;
    /// - a timer type: a struct or enum whose `Drop` does admin work, or
    ///   that holds a timer (`Instant`, or another timer type) and has a
    ///   function of its own that does admin work; naming it in a body is
    ///   admin, and so is calling one of its methods that does admin work;
    /// - a helper function: one whose statements are all admin (a
    ///   `log_start(order)`), or one handed work to run (a closure or a
    ///   future) whose statements are at least half admin (a
    ///   `timed("reserve", || …)`): calling it is admin. A method name
    ///   counts only if no other function of that name does business.
    ///
    /// Any of these in one file counts in all of them, so that moving it to
    /// another module of the crate changes nothing.
    pub fn with_aliases_in<'f>(&self, files: impl IntoIterator<Item = &'f syn::File>) -> Rules {
        let mut finder = AliasFinder::default();
        for file in files {
            finder.visit_file(file);
        }
        let mut rules = self.clone();
        // Until nothing changes: a wrapper of a rename, a helper that calls
        // a helper, a timer that holds a timer. Every set only grows, and
        // more admin code only makes more helpers, so this ends.
        loop {
            let before = rules.size();
            rules.follow_renames(&finder.renames);
            rules.follow_wrappers(&finder.wrappers);
            let counts: Vec<Counts> = finder
                .functions
                .iter()
                .map(|candidate| count(&candidate.block, &rules))
                .collect();
            rules.find_timers(&finder, &counts);
            rules.find_helpers(&finder.functions, &counts);
            if before == rules.size() {
                return rules;
            }
        }
    }

    /// Each `(name, alias)` of a renaming import: the alias is admin where
    /// the name is, as a macro, an attribute, a type, or the start of a path.
    fn follow_renames(&mut self, renames: &[(String, String)]) {
        for (name, alias) in renames {
            if self.macros.contains(name) {
                self.macros.insert(alias.clone());
            }
            if self.attributes.contains(name) {
                self.attributes.insert(alias.clone());
            }
            if self.types.contains(name) {
                self.types.insert(alias.clone());
            }
            let renamed: Vec<String> = self
                .paths
                .iter()
                .filter_map(|path| {
                    if path == name {
                        Some(alias.clone())
                    } else {
                        path.strip_prefix(&format!("{name}::"))
                            .map(|rest| format!("{alias}::{rest}"))
                    }
                })
                .collect();
            self.paths.extend(renamed);
        }
    }

    /// Each `macro_rules!` wrapper, with the macros it calls: it is admin
    /// if one of them is.
    fn follow_wrappers(&mut self, wrappers: &[(String, Vec<String>)]) {
        for (name, called) in wrappers {
            if called.iter().any(|c| self.macros.contains(c)) {
                self.macros.insert(name.clone());
            }
        }
    }

    /// A timer: it logs when dropped, or it holds a timer and a function of
    /// its own does admin work (reads or logs it). A type that only holds
    /// an `Instant` (a deadline) is not one. `counts` are the statements of
    /// `finder`'s functions, in order.
    fn find_timers(&mut self, finder: &AliasFinder, counts: &[Counts]) {
        for (name, drop) in &finder.drops {
            if count(drop, self).admin > 0 {
                self.types.insert(name.clone());
            }
        }
        for (name, mentions) in &finder.types {
            let holds_a_timer = mentions.iter().any(|m| self.types.contains(m));
            let admin_of_its_own = finder
                .functions
                .iter()
                .zip(counts)
                .any(|(f, c)| f.owner.as_ref() == Some(name) && c.admin > 0);
            if holds_a_timer && admin_of_its_own {
                self.types.insert(name.clone());
            }
        }
    }

    /// The helpers among `functions` (with `counts`, their statements), by
    /// how they are called. A name shared by a helper and a function that
    /// does business is not followed: a call of it could be either.
    fn find_helpers(&mut self, functions: &[Candidate], counts: &[Counts]) {
        let (mut helpers, mut others) = (BTreeSet::new(), BTreeSet::new());
        for (candidate, counted) in functions.iter().zip(counts) {
            let timer = candidate
                .owner
                .as_ref()
                .is_some_and(|owner| self.types.contains(owner));
            let helper = candidate.is_helper(*counted) || (timer && counted.admin > 0);
            if helper {
                helpers.insert(candidate.callee());
            } else {
                others.insert(candidate.callee());
            }
        }
        for callee in helpers.difference(&others) {
            match callee {
                Callee::Method(name) => self.methods.insert(name.clone()),
                Callee::Path(path) => self.paths.insert(path.clone()),
            };
        }
    }

    fn size(&self) -> [usize; 5] {
        [
            self.macros.len(),
            self.paths.len(),
            self.attributes.len(),
            self.types.len(),
            self.methods.len(),
        ]
    }
}

/// How a helper is called: by path (`timed(…)`, `Timer::start(…)`) or as a
/// method (`timer.stop()`).
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Callee {
    Path(String),
    Method(String),
}

/// A function that may be a helper.
struct Candidate {
    name: String,
    /// The type of the `impl` it is declared in.
    owner: Option<String>,
    /// Called as `value.name(…)`: it takes `self`.
    method: bool,
    /// It is handed work to run: a closure or a future.
    wraps: bool,
    block: syn::Block,
}

impl Candidate {
    fn is_helper(&self, counts: Counts) -> bool {
        counts.admin > 0
            && (counts.business == 0 || (self.wraps && counts.admin >= counts.business))
    }

    /// How a call of it reads.
    fn callee(&self) -> Callee {
        match (&self.owner, self.method) {
            (_, true) => Callee::Method(self.name.clone()),
            (Some(owner), false) => Callee::Path(format!("{owner}::{}", self.name)),
            (None, false) => Callee::Path(self.name.clone()),
        }
    }
}

/// Renaming imports, `macro_rules!` definitions, functions, types and
/// `Drop` impls, wherever they are.
#[derive(Default)]
struct AliasFinder {
    /// `(name, alias)` for every `use …::name as alias`.
    renames: Vec<(String, String)>,
    /// Every `macro_rules! name`, with the macros its rules call.
    wrappers: Vec<(String, Vec<String>)>,
    /// Every function with a body.
    functions: Vec<Candidate>,
    /// Every struct and enum, with the names its fields' types mention.
    types: Vec<(String, BTreeSet<String>)>,
    /// `impl Drop for T`: `T`, and the body of its `drop`.
    drops: Vec<(String, syn::Block)>,
    /// The type of each `impl` being visited, innermost last.
    owners: Vec<Option<String>>,
}

impl AliasFinder {
    fn candidate(&mut self, sig: &syn::Signature, block: &syn::Block, owner: Option<String>) {
        let mut mentioned = BTreeSet::new();
        idents(sig.inputs.to_token_stream(), &mut mentioned);
        idents(sig.generics.to_token_stream(), &mut mentioned);
        idents(sig.generics.where_clause.to_token_stream(), &mut mentioned);
        self.functions.push(Candidate {
            name: sig.ident.to_string(),
            owner,
            method: sig.receiver().is_some(),
            wraps: WORK.iter().any(|w| mentioned.contains(*w)),
            block: block.clone(),
        });
    }

    fn fields(&mut self, name: &syn::Ident, fields: &[&syn::Field]) {
        let mut mentioned = BTreeSet::new();
        for field in fields {
            idents(field.ty.to_token_stream(), &mut mentioned);
        }
        self.types.push((name.to_string(), mentioned));
    }
}

impl<'ast> Visit<'ast> for AliasFinder {
    fn visit_use_rename(&mut self, rename: &'ast syn::UseRename) {
        self.renames
            .push((rename.ident.to_string(), rename.rename.to_string()));
    }

    fn visit_item_macro(&mut self, item: &'ast syn::ItemMacro) {
        if let Some(name) = &item.ident
            && item.mac.path.is_ident("macro_rules")
        {
            let mut called = Vec::new();
            macro_calls(item.mac.tokens.clone(), &mut called);
            self.wrappers.push((name.to_string(), called));
        }
        visit::visit_item_macro(self, item);
    }

    /// `let note = |step| debug!(…);` is a helper like a function: calling
    /// `note(…)` is as much admin as calling a `fn note`.
    fn visit_local(&mut self, local: &'ast syn::Local) {
        if let (syn::Pat::Ident(name), Some(init)) = (&local.pat, &local.init)
            && let syn::Expr::Closure(closure) = &*init.expr
        {
            let block = match &*closure.body {
                syn::Expr::Block(body) => body.block.clone(),
                body => syn::Block {
                    brace_token: Default::default(),
                    stmts: vec![syn::Stmt::Expr(body.clone(), None)],
                },
            };
            self.functions.push(Candidate {
                name: name.ident.to_string(),
                owner: None,
                method: false,
                wraps: false,
                block,
            });
        }
        visit::visit_local(self, local);
    }

    fn visit_item_fn(&mut self, item: &'ast syn::ItemFn) {
        self.candidate(&item.sig, &item.block, None);
        self.owners.push(None);
        visit::visit_item_fn(self, item);
        self.owners.pop();
    }

    fn visit_item_impl(&mut self, item: &'ast syn::ItemImpl) {
        let owner = type_name(&item.self_ty);
        let is_drop = item
            .trait_
            .as_ref()
            .is_some_and(|(_, path, _)| path.segments.last().is_some_and(|s| s.ident == "Drop"));
        if is_drop {
            // `drop` is called by the language, never by name: what it does
            // makes its type a timer, not a helper of its own.
            if let Some(owner) = owner {
                for member in &item.items {
                    if let syn::ImplItem::Fn(function) = member
                        && function.sig.ident == "drop"
                    {
                        self.drops.push((owner.clone(), function.block.clone()));
                    }
                }
            }
            return;
        }
        self.owners.push(owner);
        visit::visit_item_impl(self, item);
        self.owners.pop();
    }

    fn visit_impl_item_fn(&mut self, item: &'ast syn::ImplItemFn) {
        let owner = self.owners.last().cloned().flatten();
        self.candidate(&item.sig, &item.block, owner);
        self.owners.push(None);
        visit::visit_impl_item_fn(self, item);
        self.owners.pop();
    }

    fn visit_trait_item_fn(&mut self, item: &'ast syn::TraitItemFn) {
        if let Some(block) = &item.default {
            self.candidate(&item.sig, block, None);
        }
        self.owners.push(None);
        visit::visit_trait_item_fn(self, item);
        self.owners.pop();
    }

    fn visit_item_struct(&mut self, item: &'ast syn::ItemStruct) {
        let fields: Vec<&syn::Field> = item.fields.iter().collect();
        self.fields(&item.ident, &fields);
        visit::visit_item_struct(self, item);
    }

    fn visit_item_enum(&mut self, item: &'ast syn::ItemEnum) {
        let fields: Vec<&syn::Field> = item.variants.iter().flat_map(|v| v.fields.iter()).collect();
        self.fields(&item.ident, &fields);
        visit::visit_item_enum(self, item);
    }
}

/// The name of a type as an `impl` names it: `Timer` for `Timer<'a>`.
fn type_name(ty: &syn::Type) -> Option<String> {
    match ty {
        syn::Type::Path(path) => path.path.segments.last().map(|s| s.ident.to_string()),
        syn::Type::Reference(reference) => type_name(&reference.elem),
        syn::Type::Paren(paren) => type_name(&paren.elem),
        syn::Type::Group(group) => type_name(&group.elem),
        _ => None,
    }
}

/// Every identifier in a token stream.
fn idents(stream: TokenStream, into: &mut BTreeSet<String>) {
    for token in stream {
        match token {
            TokenTree::Group(group) => idents(group.stream(), into),
            TokenTree::Ident(ident) => {
                into.insert(ident.to_string());
            }
            _ => {}
        }
    }
}

/// The names `name` of every `name!` in a token stream.
fn macro_calls(stream: TokenStream, into: &mut Vec<String>) {
    let mut previous: Option<String> = None;
    for token in stream {
        match token {
            TokenTree::Group(group) => {
                macro_calls(group.stream(), into);
                previous = None;
            }
            TokenTree::Ident(ident) => previous = Some(ident.to_string()),
            TokenTree::Punct(punct) if punct.as_char() == '!' => {
                into.extend(previous.take());
            }
            _ => previous = None,
        }
    }
}

/// Every `.rs` file under `paths` (files or folders, recursively; `target`
/// and hidden folders skipped).
pub fn analyze_paths(paths: &[PathBuf], rules: &Rules) -> anyhow::Result<Report> {
    let mut files = Vec::new();
    for path in paths {
        collect(path, &mut files)?;
    }
    files.sort();
    files.dedup();
    let mut parsed = Vec::new();
    for file in files {
        let source = std::fs::read_to_string(&file)
            .map_err(|err| anyhow::anyhow!("cannot read {}: {err}", file.display()))?;
        let syntax = syn::parse_file(&source).map_err(|err| {
            let at = err.span().start();
            anyhow::anyhow!(
                "{}:{}:{}: not Rust I can parse: {err}",
                file.display(),
                at.line,
                at.column + 1
            )
        })?;
        parsed.push((file, syntax));
    }
    // Renames, wrappers, helpers and timers count across every file
    // measured together.
    let rules = rules.with_aliases_in(parsed.iter().map(|(_, syntax)| syntax));
    let mut reports = Vec::new();
    for (file, syntax) in parsed {
        let functions = analyze_file(&syntax, &rules);
        let business = functions.iter().map(|f| f.business).sum();
        let admin = functions.iter().map(|f| f.admin).sum();
        reports.push(FileReport {
            path: file.display().to_string(),
            business,
            admin,
            ratio: ratio(business, admin),
            functions,
        });
    }
    let business = reports.iter().map(|f| f.business).sum();
    let admin = reports.iter().map(|f| f.admin).sum();
    Ok(Report {
        files: reports,
        business,
        admin,
        ratio: ratio(business, admin),
    })
}

fn collect(path: &Path, files: &mut Vec<PathBuf>) -> anyhow::Result<()> {
    if path.is_file() {
        if path.extension().is_some_and(|e| e == "rs") {
            files.push(path.to_path_buf());
        }
        return Ok(());
    }
    if !path.is_dir() {
        anyhow::bail!("{} is neither a file nor a folder", path.display());
    }
    for entry in std::fs::read_dir(path)? {
        let entry = entry?.path();
        let name = entry
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if name == "target" || name.starts_with('.') {
            continue;
        }
        collect(&entry, files)?;
    }
    Ok(())
}

/// A function with a body, wherever it is declared.
struct Function {
    name: String,
    attrs: Vec<syn::Attribute>,
    block: syn::Block,
    line: usize,
}

#[derive(Default)]
struct FunctionFinder {
    functions: Vec<Function>,
}

impl FunctionFinder {
    fn add(&mut self, name: &syn::Ident, attrs: &[syn::Attribute], block: &syn::Block) {
        self.functions.push(Function {
            name: name.to_string(),
            attrs: attrs.to_vec(),
            block: block.clone(),
            line: name.span().start().line,
        });
    }
}

impl<'ast> Visit<'ast> for FunctionFinder {
    fn visit_item_fn(&mut self, item: &'ast syn::ItemFn) {
        self.add(&item.sig.ident, &item.attrs, &item.block);
        visit::visit_item_fn(self, item);
    }
    fn visit_impl_item_fn(&mut self, item: &'ast syn::ImplItemFn) {
        self.add(&item.sig.ident, &item.attrs, &item.block);
        visit::visit_impl_item_fn(self, item);
    }
    fn visit_trait_item_fn(&mut self, item: &'ast syn::TraitItemFn) {
        if let Some(block) = &item.default {
            self.add(&item.sig.ident, &item.attrs, block);
        }
        visit::visit_trait_item_fn(self, item);
    }
}

/// From the first token of `node` to the end of its last.
fn range(node: &impl ToTokens) -> Range {
    let mut bounds: Option<Range> = None;
    fn walk(stream: TokenStream, bounds: &mut Option<Range>) {
        for token in stream {
            let (start, end) = match &token {
                TokenTree::Group(group) => {
                    walk(group.stream(), bounds);
                    (group.span_open().start(), group.span_close().end())
                }
                other => (other.span().start(), other.span().end()),
            };
            let (lo, hi) = bounds.get_or_insert((start, end));
            if start < *lo {
                *lo = start;
            }
            if end > *hi {
                *hi = end;
            }
        }
    }
    walk(node.to_token_stream(), &mut bounds);
    bounds.unwrap_or((
        LineColumn { line: 0, column: 0 },
        LineColumn { line: 0, column: 0 },
    ))
}

fn contains(range: &Range, at: LineColumn) -> bool {
    range.0 <= at && at < range.1
}

/// Whether `inner` lies within `outer` (or is it).
fn within(inner: &Range, outer: &Range) -> bool {
    outer.0 <= inner.0 && inner.1 <= outer.1
}

fn last_segments(path: &syn::Path, n: usize) -> String {
    let segments: Vec<String> = path.segments.iter().map(|s| s.ident.to_string()).collect();
    segments[segments.len().saturating_sub(n)..].join("::")
}

/// The statements of a function body, wherever they are nested, and the
/// items declared in it (measured on their own, or not at all).
#[derive(Default)]
struct StatementFinder {
    statements: Vec<Range>,
    items: Vec<Range>,
}

impl StatementFinder {
    /// A match arm's or a closure's body is a statement of its own unless
    /// it is a block, whose statements are: `Ok(x) => x,` and
    /// `Ok(x) => { x }` count the same, as rustfmt may write either.
    fn body(&mut self, body: &syn::Expr) {
        if !matches!(body, syn::Expr::Block(_) | syn::Expr::Async(_)) {
            self.statements.push(range(body));
        }
    }
}

impl<'ast> Visit<'ast> for StatementFinder {
    fn visit_stmt(&mut self, stmt: &'ast syn::Stmt) {
        if let syn::Stmt::Item(item) = stmt {
            self.items.push(range(item));
            return;
        }
        self.statements.push(range(stmt));
        visit::visit_stmt(self, stmt);
    }

    fn visit_arm(&mut self, arm: &'ast syn::Arm) {
        self.body(&arm.body);
        visit::visit_arm(self, arm);
    }

    fn visit_expr_closure(&mut self, closure: &'ast syn::ExprClosure) {
        self.body(&closure.body);
        visit::visit_expr_closure(self, closure);
    }

    fn visit_item(&mut self, item: &'ast syn::Item) {
        self.items.push(range(item));
    }
}

/// Finds the admin constructs of a function body.
struct AdminFinder<'r> {
    rules: &'r Rules,
    /// Everything admin, down to a part of an expression.
    ranges: Vec<Range>,
    /// A match arm or a closure that only does admin things: its body is
    /// an admin statement, and its pattern or parameters are no business
    /// of the statement around it.
    quiet: Vec<Range>,
}

impl AdminFinder<'_> {
    fn is_admin_macro(&self, mac: &syn::Macro) -> bool {
        mac.path
            .segments
            .last()
            .is_some_and(|s| self.rules.macros.contains(&s.ident.to_string()))
    }

    /// A call path of the rules, or a path through a timer type.
    fn is_admin_path(&self, path: &syn::Path) -> bool {
        self.rules.paths.iter().any(|rule| {
            let n = rule.split("::").count();
            last_segments(path, n) == *rule
        }) || path
            .segments
            .iter()
            .any(|s| self.rules.types.contains(&s.ident.to_string()))
    }

    /// An admin expression, or a block of nothing but admin statements.
    fn only_admin(&self, expr: &syn::Expr) -> bool {
        match expr {
            syn::Expr::Block(block) => {
                !block.block.stmts.is_empty()
                    && block.block.stmts.iter().all(|stmt| match stmt {
                        syn::Stmt::Expr(e, _) => self.is_admin_expr(e),
                        syn::Stmt::Macro(m) => self.is_admin_macro(&m.mac),
                        syn::Stmt::Local(local) => local
                            .init
                            .as_ref()
                            .is_some_and(|i| self.is_admin_expr(&i.expr)),
                        syn::Stmt::Item(_) => false,
                    })
            }
            other => self.is_admin_expr(other),
        }
    }

    /// Whether the whole expression is plumbing: a value only admin code
    /// uses, or a wrapper whose work is a closure (counted on its own).
    fn is_admin_expr(&self, expr: &syn::Expr) -> bool {
        match expr {
            syn::Expr::Macro(m) => self.is_admin_macro(&m.mac),
            syn::Expr::Call(call) => {
                matches!(&*call.func, syn::Expr::Path(p) if self.is_admin_path(&p.path))
            }
            syn::Expr::Path(p) => self.is_admin_path(&p.path),
            syn::Expr::Struct(s) => self.is_admin_path(&s.path),
            syn::Expr::MethodCall(call) => {
                let method = call.method.to_string();
                let on_admin = || self.is_admin_expr(&call.receiver);
                // `span.record(…)`, `span.in_scope(|| …)`: on a span.
                let on_a_span = method == "record" || method == "in_scope";
                ADMIN_METHODS.contains(&method.as_str())
                    || self.rules.methods.contains(&method)
                    || (on_a_span && (mentions_span(&call.receiver) || on_admin()))
                    || (CONVERSIONS.contains(&method.as_str()) && on_admin())
            }
            // `start.elapsed().as_secs_f64() * 1e3`: computed from a timer
            // and constants only.
            syn::Expr::Binary(binary) => {
                let (left, right) = (&*binary.left, &*binary.right);
                let part = |side: &syn::Expr| {
                    self.is_admin_expr(side) || matches!(side, syn::Expr::Lit(_))
                };
                part(left) && part(right) && (self.is_admin_expr(left) || self.is_admin_expr(right))
            }
            syn::Expr::Unary(e) => self.is_admin_expr(&e.expr),
            syn::Expr::Await(e) => self.is_admin_expr(&e.base),
            syn::Expr::Try(e) => self.is_admin_expr(&e.expr),
            syn::Expr::Cast(e) => self.is_admin_expr(&e.expr),
            syn::Expr::Paren(e) => self.is_admin_expr(&e.expr),
            syn::Expr::Group(e) => self.is_admin_expr(&e.expr),
            syn::Expr::Reference(e) => self.is_admin_expr(&e.expr),
            _ => false,
        }
    }
}

fn mentions_span(expr: &syn::Expr) -> bool {
    expr.to_token_stream().into_iter().any(|t| {
        matches!(&t, TokenTree::Ident(ident) if { let name = ident.to_string().to_lowercase(); name.contains("span") })
    })
}

impl<'ast> Visit<'ast> for AdminFinder<'_> {
    fn visit_stmt(&mut self, stmt: &'ast syn::Stmt) {
        let admin = match stmt {
            syn::Stmt::Macro(m) => self.is_admin_macro(&m.mac),
            syn::Stmt::Expr(e, _) => self.only_admin(e),
            syn::Stmt::Local(local) => {
                // Binding a closure that is a helper (`let note = |…| …`).
                let helper = matches!(&local.pat, syn::Pat::Ident(name)
                    if local.init.as_ref().is_some_and(|i| matches!(*i.expr, syn::Expr::Closure(_)))
                        && self.rules.paths.contains(&name.ident.to_string()));
                helper
                    || local
                        .init
                        .as_ref()
                        .is_some_and(|init| self.is_admin_expr(&init.expr))
            }
            syn::Stmt::Item(_) => false,
        };
        if admin {
            self.ranges.push(range(stmt));
        }
        visit::visit_stmt(self, stmt);
    }

    fn visit_macro(&mut self, mac: &'ast syn::Macro) {
        if self.is_admin_macro(mac) {
            self.ranges.push(range(mac));
        }
        visit::visit_macro(self, mac);
    }

    fn visit_expr_call(&mut self, call: &'ast syn::ExprCall) {
        if matches!(&*call.func, syn::Expr::Path(p) if self.is_admin_path(&p.path)) {
            self.ranges.push(range(call));
        }
        visit::visit_expr_call(self, call);
    }

    fn visit_expr_path(&mut self, path: &'ast syn::ExprPath) {
        // `get_or_init(Instant::now)`: a timer passed as a value.
        if self.is_admin_path(&path.path) {
            self.ranges.push(range(path));
        }
        visit::visit_expr_path(self, path);
    }

    fn visit_expr_struct(&mut self, expr: &'ast syn::ExprStruct) {
        // `Timer { start: Instant::now(), .. }`
        if self.is_admin_path(&expr.path) {
            self.ranges.push(range(expr));
        }
        visit::visit_expr_struct(self, expr);
    }

    fn visit_expr_method_call(&mut self, call: &'ast syn::ExprMethodCall) {
        let method = call.method.to_string();
        if method == "instrument" {
            // `work().instrument(span)`: the work is business, the wrapper admin.
            let end = range(call).1;
            self.ranges.push((call.dot_token.span().start(), end));
        } else if ADMIN_METHODS.contains(&method.as_str())
            || (method == "record" && mentions_span(&call.receiver))
            || self.is_admin_expr(&syn::Expr::MethodCall(call.clone()))
        {
            self.ranges.push(range(call));
        }
        visit::visit_expr_method_call(self, call);
    }

    fn visit_local(&mut self, local: &'ast syn::Local) {
        // `let start = Instant::now();`, `let _guard = span.enter();`: the
        // whole statement serves admin code.
        if local
            .init
            .as_ref()
            .is_some_and(|init| self.is_admin_expr(&init.expr))
        {
            self.ranges.push(range(local));
        }
        visit::visit_local(self, local);
    }

    fn visit_arm(&mut self, arm: &'ast syn::Arm) {
        // `Outcome::Ok => info!("done"),`: the body is an admin statement;
        // its pattern is not business of the `match`.
        if self.only_admin(&arm.body) {
            self.quiet.push(range(arm));
        }
        visit::visit_arm(self, arm);
    }

    fn visit_expr_closure(&mut self, closure: &'ast syn::ExprClosure) {
        // `|err| error!(%err)`: likewise, its parameters.
        if self.only_admin(&closure.body) {
            self.quiet.push(range(closure));
        }
        visit::visit_expr_closure(self, closure);
    }

    fn visit_item(&mut self, _item: &'ast syn::Item) {
        // A nested function (or any item) is measured on its own.
    }
}

/// Business and admin statements.
#[derive(Clone, Copy, Debug, Default)]
struct Counts {
    business: usize,
    admin: usize,
}

/// The statements of a function body, counted: each token belongs to the
/// innermost statement that holds it, and makes it admin when it is part of
/// admin code of that statement's own, business when it is anything but
/// punctuation.
fn count(block: &syn::Block, rules: &Rules) -> Counts {
    let mut statements = StatementFinder::default();
    statements.visit_block(block);
    let mut admin = AdminFinder {
        rules,
        ranges: Vec::new(),
        quiet: Vec::new(),
    };
    for stmt in &block.stmts {
        admin.visit_stmt(stmt);
    }

    #[derive(Default, Clone, Copy)]
    struct Kind {
        business: bool,
        admin: bool,
    }
    let mut kinds = vec![Kind::default(); statements.statements.len()];
    let mut classify = |at: LineColumn, punctuation: bool| {
        if statements.items.iter().any(|r| contains(r, at)) {
            return;
        }
        // The innermost statement: the one that starts last, then ends first.
        let Some((index, statement)) = statements
            .statements
            .iter()
            .enumerate()
            .filter(|(_, r)| contains(r, at))
            .max_by(|(_, a), (_, b)| a.0.cmp(&b.0).then(b.1.cmp(&a.1)))
        else {
            return;
        };
        // Admin code counts for the statement it is in, not for one around
        // it: `timed(|| work())` is admin, `work()` inside it business.
        let of_its_own = |r: &Range| contains(r, at) && within(r, statement);
        if admin.ranges.iter().any(of_its_own) {
            kinds[index].admin = true;
        } else if !punctuation && !admin.quiet.iter().any(of_its_own) {
            kinds[index].business = true;
        }
    };
    fn walk(stream: TokenStream, classify: &mut impl FnMut(LineColumn, bool)) {
        for token in stream {
            match token {
                TokenTree::Group(group) => {
                    classify(group.span_open().start(), true);
                    walk(group.stream(), classify);
                    classify(group.span_close().start(), true);
                }
                TokenTree::Punct(punct) => classify(punct.span().start(), true),
                other => classify(other.span().start(), false),
            }
        }
    }
    for stmt in &block.stmts {
        walk(stmt.to_token_stream(), &mut classify);
    }
    Counts {
        business: kinds.iter().filter(|k| k.business).count(),
        admin: kinds.iter().filter(|k| k.admin).count(),
    }
}

fn measure(function: &Function, rules: &Rules) -> FunctionReport {
    let Counts { business, admin } = count(&function.block, rules);
    // One statement per attribute, however rustfmt lays its arguments out.
    let attributes = function
        .attrs
        .iter()
        .filter(|a| {
            a.path()
                .segments
                .last()
                .is_some_and(|s| rules.attributes.contains(&s.ident.to_string()))
        })
        .count();
    let admin = admin + attributes;
    FunctionReport {
        name: function.name.clone(),
        line: function.line,
        business,
        admin,
        ratio: ratio(business, admin),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_renaming_import_carries_admin_over_to_its_alias() {
        let mut rules = Rules::default();
        let renames = [
            ("info", "note"),
            ("Instant", "Clock"),
            ("actions", "act"),
            ("work", "job"),
        ]
        .map(|(name, alias)| (name.to_owned(), alias.to_owned()));
        rules.follow_renames(&renames);
        assert!(rules.macros.contains("note"));
        assert!(rules.types.contains("Clock"));
        assert!(rules.paths.contains("Clock::now"));
        assert!(rules.paths.contains("act::run"));
        assert!(!rules.macros.contains("job") && !rules.paths.contains("job"));
    }

    #[test]
    fn a_wrapper_macro_is_admin_when_a_macro_it_calls_is() {
        let mut rules = Rules::default();
        rules.follow_wrappers(&[
            (
                "say".to_owned(),
                vec!["format".to_owned(), "info".to_owned()],
            ),
            ("list".to_owned(), vec!["vec".to_owned()]),
        ]);
        assert!(rules.macros.contains("say"));
        assert!(!rules.macros.contains("list"));
    }
}

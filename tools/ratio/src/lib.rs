//! Business lines versus admin lines.
//!
//! Raymond Hettinger's measure of good code: the ratio of lines that do the
//! business of a function to the "admin" lines around them (logging, timing,
//! instrumentation plumbing). Good observability tools raise it: one
//! `#[instrument(err)]` replaces a start log, an end log, a timer and an
//! error log at every `?`.
//!
//! Every line inside a function body is one of:
//!
//! - **admin**: a line of a logging or tracing macro call (`trace!` …
//!   `error!`, `event!`, `span!`, `info_span!` …, and `metrics` macros), of
//!   span plumbing (`.enter()`, `.entered()`, `.in_current_span()`,
//!   `.instrument(…)`, `Span::current()`, a span's `.record(…)`), or of
//!   manual timing (`Instant::now()`, `.elapsed()`, and a `let` that only
//!   serves them); a multi-line admin construct counts all its lines. An
//!   `#[instrument]` or `#[action]` attribute on the function counts as one
//!   admin line, however many lines its arguments take.
//! - **neutral** (not counted): blank lines, comments, lines of lone
//!   punctuation (`}`, `);`).
//! - **business**: every other line of code. A line that holds a whole
//!   admin statement is admin, whatever else shares it (joining a log line
//!   onto a business line does not hide it); a line where admin code is
//!   only part of a business statement (`work().instrument(span)`) is
//!   business.
//!
//! Renaming imports (`use tracing::info as note;`) and `macro_rules!`
//! wrappers of admin macros are followed, across every file measured
//! together ([`Rules::with_aliases_in`]).
//!
//! A nested function is measured on its own, not as part of the one around
//! it. Extra admin macros and call paths can be configured ([`Rules`]).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use proc_macro2::{LineColumn, TokenStream, TokenTree};
use quote::ToTokens;
use serde::Serialize;
use syn::spanned::Spanned;
use syn::visit::{self, Visit};

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
            paths: set(&["Instant::now", "Span::current", "SystemTime::now"]),
            attributes: set(&["instrument", "action"]),
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

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FunctionReport {
    pub name: String,
    pub line: usize,
    pub business: usize,
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

/// Business lines per admin line; `None` (infinite) with no admin line.
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
    let wholes: Vec<(LineColumn, LineColumn)> = finder.functions.iter().map(|f| f.whole).collect();
    let mut reports: Vec<FunctionReport> = finder
        .functions
        .iter()
        .map(|function| measure(function, &wholes, rules))
        .collect();
    reports.sort_by_key(|r| r.line);
    reports
}

impl Rules {
    /// These rules, plus the other names that `files` give admin code: a
    /// renaming import (`use tracing::info as note;` makes `note!` a log
    /// line, `use std::time::Instant as Clock;` makes `Clock::now()` a
    /// timer), and a `macro_rules!` whose expansion calls an admin macro.
    /// A rename or wrapper in any file counts in all of them, so that moving
    /// it to another module of the crate changes nothing.
    pub fn with_aliases_in<'f>(&self, files: impl IntoIterator<Item = &'f syn::File>) -> Rules {
        let mut finder = AliasFinder::default();
        for file in files {
            finder.visit_file(file);
        }
        let mut rules = self.clone();
        // Until nothing changes: a wrapper of a rename, a rename of a wrapper.
        loop {
            let before = (
                rules.macros.len(),
                rules.paths.len(),
                rules.attributes.len(),
            );
            for (name, alias) in &finder.renames {
                if rules.macros.contains(name) {
                    rules.macros.insert(alias.clone());
                }
                if rules.attributes.contains(name) {
                    rules.attributes.insert(alias.clone());
                }
                let renamed: Vec<String> = rules
                    .paths
                    .iter()
                    .filter_map(|path| path.strip_prefix(&format!("{name}::")))
                    .map(|rest| format!("{alias}::{rest}"))
                    .collect();
                rules.paths.extend(renamed);
            }
            for (name, called) in &finder.wrappers {
                if called.iter().any(|c| rules.macros.contains(c)) {
                    rules.macros.insert(name.clone());
                }
            }
            if before
                == (
                    rules.macros.len(),
                    rules.paths.len(),
                    rules.attributes.len(),
                )
            {
                return rules;
            }
        }
    }
}

/// Renaming imports and `macro_rules!` definitions, wherever they are.
#[derive(Default)]
struct AliasFinder {
    /// `(name, alias)` for every `use …::name as alias`.
    renames: Vec<(String, String)>,
    /// Every `macro_rules! name`, with the macros its rules call.
    wrappers: Vec<(String, Vec<String>)>,
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
    // Renames and wrappers count across every file measured together.
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
    /// The whole function, signature and attributes included.
    whole: (LineColumn, LineColumn),
}

#[derive(Default)]
struct FunctionFinder {
    functions: Vec<Function>,
}

impl FunctionFinder {
    fn add(
        &mut self,
        name: &syn::Ident,
        attrs: &[syn::Attribute],
        block: &syn::Block,
        whole: &impl ToTokens,
    ) {
        self.functions.push(Function {
            name: name.to_string(),
            attrs: attrs.to_vec(),
            block: block.clone(),
            line: name.span().start().line,
            whole: range(whole),
        });
    }
}

impl<'ast> Visit<'ast> for FunctionFinder {
    fn visit_item_fn(&mut self, item: &'ast syn::ItemFn) {
        self.add(&item.sig.ident, &item.attrs, &item.block, item);
        visit::visit_item_fn(self, item);
    }
    fn visit_impl_item_fn(&mut self, item: &'ast syn::ImplItemFn) {
        self.add(&item.sig.ident, &item.attrs, &item.block, item);
        visit::visit_impl_item_fn(self, item);
    }
    fn visit_trait_item_fn(&mut self, item: &'ast syn::TraitItemFn) {
        if let Some(block) = &item.default {
            self.add(&item.sig.ident, &item.attrs, block, item);
        }
        visit::visit_trait_item_fn(self, item);
    }
}

/// From the first token of `node` to the end of its last.
fn range(node: &impl ToTokens) -> (LineColumn, LineColumn) {
    let mut bounds: Option<(LineColumn, LineColumn)> = None;
    fn walk(stream: TokenStream, bounds: &mut Option<(LineColumn, LineColumn)>) {
        for token in stream {
            let (start, end) = match &token {
                TokenTree::Group(group) => {
                    walk(group.stream(), bounds);
                    (group.span_open().start(), group.span_close().end())
                }
                other => (other.span().start(), other.span().end()),
            };
            let (lo, hi) = bounds.get_or_insert((start, end));
            if (start.line, start.column) < (lo.line, lo.column) {
                *lo = start;
            }
            if (end.line, end.column) > (hi.line, hi.column) {
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

fn contains(range: &(LineColumn, LineColumn), at: LineColumn) -> bool {
    (range.0.line, range.0.column) <= (at.line, at.column)
        && (at.line, at.column) < (range.1.line, range.1.column)
}

fn last_segments(path: &syn::Path, n: usize) -> String {
    let segments: Vec<String> = path.segments.iter().map(|s| s.ident.to_string()).collect();
    segments[segments.len().saturating_sub(n)..].join("::")
}

/// Finds the admin constructs of a function body.
struct AdminFinder<'r> {
    rules: &'r Rules,
    /// Everything admin, down to a part of an expression.
    ranges: Vec<(LineColumn, LineColumn)>,
    /// Whole statements that are admin: a line that holds one is admin,
    /// whatever else shares it.
    statements: Vec<(LineColumn, LineColumn)>,
}

impl AdminFinder<'_> {
    fn is_admin_macro(&self, mac: &syn::Macro) -> bool {
        mac.path
            .segments
            .last()
            .is_some_and(|s| self.rules.macros.contains(&s.ident.to_string()))
    }

    fn is_admin_path(&self, path: &syn::Path) -> bool {
        self.rules.paths.iter().any(|rule| {
            let n = rule.split("::").count();
            last_segments(path, n) == *rule
        })
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

    /// Whether the whole expression is plumbing: a value only admin code uses.
    fn is_admin_expr(&self, expr: &syn::Expr) -> bool {
        match expr {
            syn::Expr::Macro(m) => self.is_admin_macro(&m.mac),
            syn::Expr::Call(call) => {
                matches!(&*call.func, syn::Expr::Path(p) if self.is_admin_path(&p.path))
            }
            syn::Expr::MethodCall(call) => {
                let method = call.method.to_string();
                ADMIN_METHODS.contains(&method.as_str())
                    || ((CONVERSIONS.contains(&method.as_str()) || method == "record")
                        && self.is_admin_expr(&call.receiver))
            }
            syn::Expr::Await(e) => self.is_admin_expr(&e.base),
            syn::Expr::Try(e) => self.is_admin_expr(&e.expr),
            syn::Expr::Cast(e) => self.is_admin_expr(&e.expr),
            syn::Expr::Paren(e) => self.is_admin_expr(&e.expr),
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
            syn::Stmt::Local(local) => local
                .init
                .as_ref()
                .is_some_and(|init| self.is_admin_expr(&init.expr)),
            syn::Stmt::Item(_) => false,
        };
        if admin {
            self.statements.push(range(stmt));
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
        // `Outcome::Ok => info!("done"),`: an arm that only logs is admin,
        // its pattern included.
        if self.only_admin(&arm.body) {
            self.ranges.push(range(arm));
        }
        visit::visit_arm(self, arm);
    }

    fn visit_expr_closure(&mut self, closure: &'ast syn::ExprClosure) {
        // `|err| error!(%err)`: a closure that only logs is admin.
        if self.only_admin(&closure.body) {
            self.ranges.push(range(closure));
        }
        visit::visit_expr_closure(self, closure);
    }

    fn visit_item(&mut self, _item: &'ast syn::Item) {
        // A nested function (or any item) is measured on its own.
    }
}

fn measure(
    function: &Function,
    wholes: &[(LineColumn, LineColumn)],
    rules: &Rules,
) -> FunctionReport {
    // Functions declared inside this one's body: theirs, not its.
    let body = range(&function.block);
    let inner: Vec<&(LineColumn, LineColumn)> =
        wholes.iter().filter(|r| contains(&body, r.0)).collect();
    let mut finder = AdminFinder {
        rules,
        ranges: Vec::new(),
        statements: Vec::new(),
    };
    for stmt in &function.block.stmts {
        finder.visit_stmt(stmt);
    }

    #[derive(Default, Clone, Copy)]
    struct Line {
        business: bool,
        admin: bool,
        admin_statement: bool,
    }
    let mut lines: BTreeMap<usize, Line> = BTreeMap::new();
    let mut classify = |at: LineColumn, punctuation: bool| {
        if inner.iter().any(|r| contains(r, at)) {
            return;
        }
        let admin = finder.ranges.iter().any(|r| contains(r, at));
        let line = lines.entry(at.line).or_default();
        if finder.statements.iter().any(|r| contains(r, at)) {
            line.admin_statement = true;
        }
        if admin {
            line.admin = true;
        } else if !punctuation {
            line.business = true;
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
    for stmt in &function.block.stmts {
        walk(stmt.to_token_stream(), &mut classify);
    }

    // One line per attribute, however rustfmt lays its arguments out.
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
    let business = lines
        .values()
        .filter(|l| l.business && !l.admin_statement)
        .count();
    let admin = lines
        .values()
        .filter(|l| l.admin_statement || (l.admin && !l.business))
        .count()
        + attributes;
    FunctionReport {
        name: function.name.clone(),
        line: function.line,
        business,
        admin,
        ratio: ratio(business, admin),
    }
}

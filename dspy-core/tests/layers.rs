//! dspy-core's layers depend one way, and the files of each directory form no cycle.
//!
//! The layers, lowest first: `util`, `error`, `signature`, `adapter`, `lm`, `retrieve`, `module`,
//! then `evaluate` and `data`. A file may use its own layer and the ones below it, never one
//! above. Inside a directory (`module/`, `lm/`, ...) the files may use each other only one way:
//! if `a.rs` uses `b.rs`, nothing `b.rs` uses leads back to `a.rs`.
//!
//! The check reads the sources (no compiler): it strips comments and literals, follows every
//! `crate::` and `super::` path (and `use child::..` in a file that declares `mod child`)
//! through the re-exports of `lib.rs` and the `mod.rs` files to the module that defines the
//! item, and compares where the path starts with where it ends. Doc links are comments, so
//! they may point anywhere.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Every top-level module of the crate, with its rank: a file may use ranks up to its own.
const LAYERS: &[(&str, u8)] = &[
    ("util", 0),
    ("error", 1),
    ("signature", 2),
    ("adapter", 3),
    ("lm", 4),
    ("retrieve", 5),
    ("module", 6),
    ("evaluate", 7),
    ("data", 7),
];

/// Cycles known when the check was written, in code this check's author did not own: each
/// must be broken some day (then removed here; the check says when). A new cycle fails.
const KNOWN_CYCLES: &[(&str, &str)] = &[(
    "adapter/: chat.rs, json.rs",
    "json.rs builds its prompt with chat.rs's messages; chat.rs falls back to JsonAdapter",
)];

/// Module paths (of the crate's own code) the check does not look into.
const SKIPPED: &[&str] = &["__private"];

#[test]
fn no_file_uses_a_layer_above_its_own() {
    let crate_ = Crate::read(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"));
    let problems = upward_uses(&crate_);
    assert!(
        problems.is_empty(),
        "dspy-core's layers depend one way (util <- error <- signature <- adapter <- lm <- \
         retrieve <- module <- evaluate, data); move the item to the lower layer, or the code \
         that needs it up:\n{}",
        problems.join("\n")
    );
}

#[test]
fn the_files_of_each_directory_form_no_cycle() {
    let crate_ = Crate::read(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"));
    let cycles = directory_cycles(&crate_, KNOWN_CYCLES);
    assert!(
        cycles.is_empty(),
        "files that use each other in a cycle (move what both need into a file of its own):\n{}",
        cycles.join("\n")
    );
}

#[test]
fn the_check_sees_an_upward_use_and_a_cycle() {
    // What lm/dummy.rs once did: an LM test double reading a constant of the module layer.
    let crate_ = Crate::from_files([
        (
            "lib.rs",
            "pub mod lm; pub mod module; pub use module::Predict;",
        ),
        ("lm/mod.rs", "mod dummy; mod handle; pub use handle::LM;"),
        (
            "lm/dummy.rs",
            "// crate::module::in_a_comment\nfn f() { let s = \"crate::module::X\"; }\n\
             fn g(m: &str) -> bool { m.starts_with(crate::module::REASK_PREFIX) }",
        ),
        ("lm/handle.rs", "pub struct LM; fn f(_: crate::Predict) {}"),
        (
            "module/mod.rs",
            "mod predict; mod call; pub use predict::Predict;",
        ),
        (
            "module/predict.rs",
            "use super::call::run;\npub struct Predict;\npub(crate) const REASK_PREFIX: &str = \"\";",
        ),
        (
            "module/call.rs",
            "use super::{Predict, predict::REASK_PREFIX};\nuse crate::lm::LM;\n\
             #[cfg(test)]\nmod tests { use super::*; }",
        ),
    ]);
    let problems = upward_uses(&crate_);
    assert_eq!(
        problems,
        [
            "lm/dummy.rs:3: `crate::module::REASK_PREFIX` uses `module` (a layer above `lm`)",
            "lm/handle.rs:1: `crate::Predict` uses `module` (a layer above `lm`)",
        ],
        "{problems:#?}"
    );
    let cycles = directory_cycles(&crate_, &[]);
    assert_eq!(
        cycles,
        [
            "src/: lm/, module/ (lm/ -> module/ -> lm/: dummy.rs:3 `crate::module::REASK_PREFIX`, \
             call.rs:2 `crate::lm::LM`)",
            "module/: call.rs, predict.rs (call.rs -> predict.rs -> call.rs: call.rs:1 \
             `super::Predict`, predict.rs:1 `super::call::run`)",
        ],
        "{cycles:#?}"
    );
    let known = [
        ("module/: call.rs, predict.rs", ""),
        ("lm/: a.rs, b.rs", ""),
    ];
    let cycles = directory_cycles(&crate_, &known);
    assert_eq!(cycles.len(), 2, "{cycles:#?}");
    assert!(cycles[0].starts_with("src/: lm/, module/"), "{cycles:#?}");
    assert_eq!(
        cycles[1],
        "lm/: a.rs, b.rs: no longer a cycle; remove it from KNOWN_CYCLES"
    );
}

// ---------------------------------------------------------------------------------------------
// The crate as files of paths

/// One `crate::`/`super::`/child path in a file, made absolute (from the crate root).
#[derive(Debug, Clone)]
struct Use {
    line: usize,
    /// The path as written, for messages.
    written: String,
    /// The same path from the crate root, before following re-exports.
    absolute: Vec<String>,
    /// A `pub use` (or `pub(crate) use`): a re-export, which only passes a name on.
    reexport: bool,
}

struct File {
    /// Relative to `src/`, with `/` separators.
    name: String,
    /// The module the file holds (`[]` for lib.rs).
    module: Vec<String>,
    uses: Vec<Use>,
}

struct Crate {
    files: Vec<File>,
    /// Every module of the crate (files and inline `mod x { .. }`).
    modules: BTreeSet<Vec<String>>,
}

impl Crate {
    fn read(src: &Path) -> Crate {
        let mut paths = Vec::new();
        collect_rs(src, &mut paths);
        let files: Vec<(String, String)> = paths
            .iter()
            .map(|p| {
                let name = p
                    .strip_prefix(src)
                    .unwrap()
                    .to_string_lossy()
                    .replace('\\', "/");
                (name, std::fs::read_to_string(p).unwrap())
            })
            .collect();
        Crate::from_files(files.iter().map(|(n, t)| (n.as_str(), t.as_str())))
    }

    fn from_files<'a>(files: impl IntoIterator<Item = (&'a str, &'a str)>) -> Crate {
        let mut modules = BTreeSet::new();
        let files: Vec<File> = files
            .into_iter()
            .map(|(name, text)| {
                let module = module_of(name);
                let tokens = tokenize(text);
                let (uses, inline) = scan(&tokens, &module);
                modules.insert(module.clone());
                modules.extend(inline);
                File {
                    name: name.to_string(),
                    module,
                    uses,
                }
            })
            .collect();
        Crate { files, modules }
    }

    /// Where `path` leads once re-exports are followed: the module that defines the item
    /// (plus the item's name), or the module itself.
    fn resolve(&self, path: &[String]) -> Vec<String> {
        let mut path = path.to_vec();
        // Re-exports can chain (lib.rs -> lm/mod.rs -> lm/handle.rs); a bound stops a loop.
        for _ in 0..16 {
            let Some(split) = (0..path.len()).find(|&i| !self.modules.contains(&path[..=i])) else {
                return path;
            };
            let (module, name) = (&path[..split], &path[split]);
            match self.reexport(module, name) {
                Some(target) => {
                    let mut next = target;
                    next.extend_from_slice(&path[split + 1..]);
                    path = next;
                }
                None => return path,
            }
        }
        path
    }

    /// What module `module` re-exports as `name`, if it does.
    fn reexport(&self, module: &[String], name: &str) -> Option<Vec<String>> {
        let file = self.files.iter().find(|f| f.module == module)?;
        file.uses
            .iter()
            .filter(|u| u.reexport && u.absolute.last().map(String::as_str) == Some(name))
            .map(|u| u.absolute.clone())
            .find(|target| target.len() > module.len() && target[..module.len()] == *module)
    }
}

fn collect_rs(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            collect_rs(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// `lm/openai/mod.rs` -> `[lm, openai]`; `lm/dummy.rs` -> `[lm, dummy]`; `lib.rs` -> `[]`.
fn module_of(name: &str) -> Vec<String> {
    let mut parts: Vec<String> = name
        .trim_end_matches(".rs")
        .split('/')
        .map(String::from)
        .collect();
    if matches!(parts.last().map(String::as_str), Some("mod" | "lib")) {
        parts.pop();
    }
    parts
}

// ---------------------------------------------------------------------------------------------
// Reading paths out of Rust source

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Ident(String),
    PathSep,
    Punct(char),
}

/// The code's tokens with their lines: comments, strings and chars left out.
fn tokenize(text: &str) -> Vec<(usize, Token)> {
    let chars: Vec<char> = text.chars().collect();
    let mut tokens = Vec::new();
    let (mut i, mut line) = (0, 1);
    let newlines = |from: usize, to: usize| chars[from..to].iter().filter(|c| **c == '\n').count();
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        let start = i;
        if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            i = skip_block_comment(&chars, i);
        } else if c == '"' {
            i = skip_string(&chars, i + 1);
        } else if (c == 'r' || c == 'b') && raw_string_start(&chars, i).is_some() {
            i = raw_string_start(&chars, i).map_or(i + 1, |(hashes, body)| {
                skip_raw_string(&chars, body, hashes)
            });
        } else if c == 'b' && next == Some('"') {
            i = skip_string(&chars, i + 2);
        } else if c == '\'' {
            i = skip_char_or_lifetime(&chars, i);
        } else if c.is_alphabetic() || c == '_' {
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            tokens.push((line, Token::Ident(chars[start..i].iter().collect())));
        } else if c == ':' && next == Some(':') {
            tokens.push((line, Token::PathSep));
            i += 2;
        } else {
            if !c.is_whitespace() {
                tokens.push((line, Token::Punct(c)));
            }
            i += 1;
        }
        line += newlines(start, i.max(start + 1).min(chars.len()));
        i = i.max(start + 1);
    }
    tokens
}

fn skip_block_comment(chars: &[char], mut i: usize) -> usize {
    let mut depth = 0;
    while i < chars.len() {
        if chars[i] == '/' && chars.get(i + 1) == Some(&'*') {
            depth += 1;
            i += 2;
        } else if chars[i] == '*' && chars.get(i + 1) == Some(&'/') {
            depth -= 1;
            i += 2;
            if depth == 0 {
                return i;
            }
        } else {
            i += 1;
        }
    }
    i
}

/// From just after the opening quote to just after the closing one.
fn skip_string(chars: &[char], mut i: usize) -> usize {
    while i < chars.len() {
        match chars[i] {
            '\\' => i += 2,
            '"' => return i + 1,
            _ => i += 1,
        }
    }
    i
}

/// `r"`, `r#"`, `br##"`...: the number of `#` and where the body starts.
fn raw_string_start(chars: &[char], i: usize) -> Option<(usize, usize)> {
    if i > 0 && (chars[i - 1].is_alphanumeric() || chars[i - 1] == '_') {
        return None;
    }
    let mut j = i + usize::from(chars[i] == 'b');
    if chars.get(j) != Some(&'r') {
        return None;
    }
    j += 1;
    let hashes = chars[j..].iter().take_while(|c| **c == '#').count();
    (chars.get(j + hashes) == Some(&'"')).then_some((hashes, j + hashes + 1))
}

fn skip_raw_string(chars: &[char], mut i: usize, hashes: usize) -> usize {
    while i < chars.len() {
        if chars[i] == '"'
            && chars[i + 1..]
                .iter()
                .take(hashes)
                .filter(|c| **c == '#')
                .count()
                == hashes
        {
            return i + 1 + hashes;
        }
        i += 1;
    }
    i
}

/// `'a'`, `'\n'`, `'\u{1F600}'` are chars; `'a` is a lifetime (kept out too: it names nothing).
fn skip_char_or_lifetime(chars: &[char], i: usize) -> usize {
    match (chars.get(i + 1), chars.get(i + 2)) {
        (Some('\\'), _) => {
            // After the escaped character: `'\''` ends at the second quote.
            let mut j = i + 3;
            while j < chars.len() && chars[j] != '\'' {
                j += 1;
            }
            j + 1
        }
        (Some(_), Some('\'')) => i + 3,
        _ => {
            let mut j = i + 1;
            while j < chars.len() && (chars[j].is_alphanumeric() || chars[j] == '_') {
                j += 1;
            }
            j
        }
    }
}

/// The paths of one file, and the inline modules it declares (`mod x { .. }`).
fn scan(tokens: &[(usize, Token)], file_module: &[String]) -> (Vec<Use>, Vec<Vec<String>>) {
    let ident = |k: usize| match tokens.get(k) {
        Some((_, Token::Ident(s))) => Some(s.as_str()),
        _ => None,
    };
    let punct = |k: usize, c: char| tokens.get(k).is_some_and(|(_, t)| *t == Token::Punct(c));
    let path_sep = |k: usize| tokens.get(k).is_some_and(|(_, t)| *t == Token::PathSep);

    // Child modules declared as `mod x;` (files) or `mod x { .. }` (inline).
    let mut children: BTreeSet<String> = BTreeSet::new();
    let mut inline_modules = Vec::new();
    // The inline modules we are inside, with the brace depth each one closes at.
    let mut open: Vec<(String, usize)> = Vec::new();
    let mut depth = 0usize;
    let mut uses = Vec::new();
    let mut k = 0;
    while k < tokens.len() {
        let module: Vec<String> = file_module
            .iter()
            .cloned()
            .chain(open.iter().map(|(m, _)| m.clone()))
            .collect();
        if punct(k, '{') {
            depth += 1;
        } else if punct(k, '}') {
            depth = depth.saturating_sub(1);
            if open.last().is_some_and(|(_, d)| *d == depth) {
                open.pop();
            }
        } else if ident(k) == Some("mod") && !path_sep(k.wrapping_sub(1)) {
            if let Some(name) = ident(k + 1) {
                if open.is_empty() {
                    children.insert(name.to_string());
                }
                if punct(k + 2, '{') {
                    let mut inline = module.clone();
                    inline.push(name.to_string());
                    inline_modules.push(inline);
                    open.push((name.to_string(), depth));
                }
            }
        } else if k > 0 && path_sep(k - 1) {
            // Inside a path already read from its start.
        } else if let Some(first) = ident(k) {
            let in_use = ident(k.wrapping_sub(1)) == Some("use");
            let relative_child = in_use && open.is_empty() && children.contains(first);
            if (first == "crate" || first == "super" || relative_child) && path_sep(k + 1) {
                let reexport = in_use && is_pub_use(tokens, k - 1);
                let line = tokens[k].0;
                let (paths, end) = read_tree(tokens, k, Vec::new());
                for written in paths {
                    if let Some(absolute) = absolute(&written, &module) {
                        uses.push(Use {
                            line,
                            written: written.join("::"),
                            absolute,
                            reexport,
                        });
                    }
                }
                k = end;
                continue;
            }
        }
        k += 1;
    }
    (uses, inline_modules)
}

/// Whether the `use` at `k` is `pub use`, `pub(crate) use` or `pub(super) use`.
fn is_pub_use(tokens: &[(usize, Token)], k: usize) -> bool {
    let is = |j: usize, t: &Token| j < tokens.len() && tokens[j].1 == *t;
    let pub_ = Token::Ident("pub".into());
    (k >= 1 && is(k - 1, &pub_)) || (k >= 4 && is(k - 1, &Token::Punct(')')) && is(k - 4, &pub_))
}

/// Reads a path or use tree starting at token `k` (`a::b`, `a::{b, c::d}`, `a::*`,
/// `a::b as c`): every full path, and the token after it.
fn read_tree(
    tokens: &[(usize, Token)],
    mut k: usize,
    mut prefix: Vec<String>,
) -> (Vec<Vec<String>>, usize) {
    let mut paths = Vec::new();
    loop {
        match tokens.get(k).map(|(_, t)| t) {
            Some(Token::Ident(name)) if name == "self" && !prefix.is_empty() => {
                paths.push(prefix);
                return (paths, k + 1);
            }
            Some(Token::Ident(name)) => {
                prefix.push(name.clone());
                k += 1;
                if tokens.get(k).is_some_and(|(_, t)| *t == Token::PathSep) {
                    k += 1;
                    continue;
                }
                if matches!(tokens.get(k), Some((_, Token::Ident(a))) if a == "as") {
                    k += 2;
                }
                paths.push(prefix);
                return (paths, k);
            }
            Some(Token::Punct('{')) => {
                k += 1;
                while !matches!(tokens.get(k), None | Some((_, Token::Punct('}')))) {
                    if tokens[k].1 == Token::Punct(',') {
                        k += 1;
                        continue;
                    }
                    let (inner, end) = read_tree(tokens, k, prefix.clone());
                    paths.extend(inner);
                    k = end.max(k + 1);
                }
                return (paths, k + 1);
            }
            // `a::*`, `a::<T>`: the path so far.
            _ => {
                paths.push(prefix);
                return (paths, k);
            }
        }
    }
}

/// `written` from the crate root, for code in `module`; `None` for a path that leaves the
/// crate (`super` above the root).
fn absolute(written: &[String], module: &[String]) -> Option<Vec<String>> {
    let mut base = module.to_vec();
    let mut rest = written;
    match rest.first().map(String::as_str) {
        Some("crate") => {
            base.clear();
            rest = &rest[1..];
        }
        Some("super") => {
            while rest.first().map(String::as_str) == Some("super") {
                base.pop()?;
                rest = &rest[1..];
            }
        }
        _ => {}
    }
    base.extend(rest.iter().cloned());
    Some(base)
}

// ---------------------------------------------------------------------------------------------
// The two checks

fn rank(module: &str) -> Option<u8> {
    LAYERS.iter().find(|(m, _)| *m == module).map(|(_, r)| *r)
}

fn upward_uses(crate_: &Crate) -> Vec<String> {
    let mut problems = Vec::new();
    for file in crate_.files.iter().filter(|f| !f.module.is_empty()) {
        let from = &file.module[0];
        let Some(from_rank) = rank(from) else {
            problems.push(format!(
                "{}: top-level module `{from}` has no layer: add it to LAYERS in {}",
                file.name,
                file!()
            ));
            continue;
        };
        for u in &file.uses {
            let target = crate_.resolve(&u.absolute);
            let Some(to) = target.first().filter(|t| !SKIPPED.contains(&t.as_str())) else {
                continue;
            };
            match rank(to) {
                Some(to_rank) if to_rank <= from_rank => {}
                Some(_) => problems.push(format!(
                    "{}:{}: `{}` uses `{to}` (a layer above `{from}`)",
                    file.name, u.line, u.written
                )),
                // An item defined in lib.rs itself, or a name the check cannot follow.
                None if crate_.modules.contains(&target[..1]) => problems.push(format!(
                    "{}: top-level module `{to}` has no layer: add it to LAYERS in {}",
                    file.name,
                    file!()
                )),
                None => {}
            }
        }
    }
    problems.dedup();
    problems
}

/// For every directory, each group of its files that use each other in a cycle, as
/// `dir/: a.rs, b.rs (a.rs -> b.rs -> a.rs: a.rs:3 `path`, b.rs:7 `path`)`.
///
/// A directory's own file (`mod.rs`) is not one of them: it declares and re-exports the
/// others and may hold the type they extend (`impl ReAct` in `react/stream.rs`), so it is
/// used by them and uses them by nature.
fn directory_cycles(crate_: &Crate, known: &[(&str, &str)]) -> Vec<String> {
    let directories: BTreeSet<&[String]> = crate_
        .files
        .iter()
        .filter(|f| f.name.ends_with("mod.rs") || f.name == "lib.rs")
        .map(|f| f.module.as_slice())
        .collect();
    let mut cycles = Vec::new();
    for dir in directories {
        let graph = directory_graph(crate_, dir);
        for group in cycle_groups(&graph) {
            let key = format!("{}: {}", dir_name(dir), group.join(", "));
            let around = path_back(&graph, &group[0], &group);
            let steps: Vec<&str> = around
                .windows(2)
                .map(|w| graph[&w[0]][&w[1]].as_str())
                .collect();
            cycles.push((
                key,
                format!(
                    "{} -> {}: {}",
                    around[0],
                    around[1..].join(" -> "),
                    steps.join(", ")
                ),
            ));
        }
    }
    let mut problems: Vec<String> = cycles
        .iter()
        .filter(|(key, _)| !known.iter().any(|(k, _)| k == key))
        .map(|(key, around)| format!("{key} ({around})"))
        .collect();
    problems.extend(
        known
            .iter()
            .filter(|(k, _)| !cycles.iter().any(|(key, _)| key == k))
            .map(|(k, _)| format!("{k}: no longer a cycle; remove it from KNOWN_CYCLES")),
    );
    problems
}

fn dir_name(dir: &[String]) -> String {
    if dir.is_empty() {
        "src/".to_string()
    } else {
        format!("{}/", dir.join("/"))
    }
}

/// Node names: a child module's file (`call.rs`, or `react/` for a directory). An edge holds
/// the first place that makes it (`call.rs:3 `super::predict::PredictConfig``).
type Graph = BTreeMap<String, BTreeMap<String, String>>;

fn directory_graph(crate_: &Crate, dir: &[String]) -> Graph {
    // The child of `dir` that `module` is, or is inside; `None` for `dir` itself.
    let node = |module: &[String]| -> Option<String> {
        let name = module.get(dir.len())?;
        let child = &module[..=dir.len()];
        let is_dir = crate_
            .files
            .iter()
            .any(|f| f.module == child && f.name.ends_with("mod.rs"));
        Some(if is_dir {
            format!("{name}/")
        } else {
            format!("{name}.rs")
        })
    };
    let mut graph: Graph = BTreeMap::new();
    for file in crate_.files.iter().filter(|f| f.module.starts_with(dir)) {
        let Some(from) = node(&file.module) else {
            continue;
        };
        for u in file.uses.iter().filter(|u| !u.reexport) {
            let target = crate_.resolve(&u.absolute);
            if !target.starts_with(dir) {
                continue;
            }
            // The module that defines the item: the longest prefix that is a module.
            let defined_in = (0..=target.len())
                .rev()
                .map(|n| &target[..n])
                .find(|m| crate_.modules.contains(*m))
                .unwrap_or_default();
            match node(defined_in) {
                Some(to) if to != from => {
                    graph
                        .entry(from.clone())
                        .or_default()
                        .entry(to)
                        .or_insert_with(|| {
                            format!("{}:{} `{}`", last(&file.name), u.line, u.written)
                        });
                }
                _ => {}
            }
        }
    }
    graph
}

fn last(name: &str) -> &str {
    name.rsplit('/').next().unwrap_or(name)
}

/// The groups of nodes that reach each other (more than one node each), sorted.
fn cycle_groups(graph: &Graph) -> Vec<Vec<String>> {
    let reach = |from: &str| -> BTreeSet<String> {
        let mut seen = BTreeSet::new();
        let mut stack = vec![from.to_string()];
        while let Some(at) = stack.pop() {
            for next in graph.get(&at).into_iter().flat_map(BTreeMap::keys) {
                if seen.insert(next.clone()) {
                    stack.push(next.clone());
                }
            }
        }
        seen
    };
    let reached: BTreeMap<&String, BTreeSet<String>> =
        graph.keys().map(|n| (n, reach(n))).collect();
    let mut groups: BTreeSet<Vec<String>> = BTreeSet::new();
    for (node, from_node) in &reached {
        let group: Vec<String> = from_node
            .iter()
            .filter(|other| {
                *other == *node || reached.get(other).is_some_and(|r| r.contains(*node))
            })
            .cloned()
            .collect();
        if group.len() > 1 {
            groups.insert(group);
        }
    }
    groups.into_iter().collect()
}

/// A shortest way from `start` around and back to it, through nodes of `group` (breadth first).
fn path_back(graph: &Graph, start: &str, group: &[String]) -> Vec<String> {
    let mut previous: BTreeMap<String, String> = BTreeMap::new();
    let mut queue = std::collections::VecDeque::from([start.to_string()]);
    while let Some(at) = queue.pop_front() {
        for next in graph.get(&at).into_iter().flat_map(BTreeMap::keys) {
            if next == start {
                let mut path = vec![start.to_string()];
                let mut step = at.clone();
                while step != start {
                    path.push(step.clone());
                    step = previous[&step].clone();
                }
                path.push(start.to_string());
                let n = path.len();
                path[1..n - 1].reverse();
                return path;
            }
            if group.contains(next) && !previous.contains_key(next) {
                previous.insert(next.clone(), at.clone());
                queue.push_back(next.clone());
            }
        }
    }
    vec![start.to_string()]
}

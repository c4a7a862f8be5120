//! The layering of `src/`, checked by `cargo test`: the domain folders and the store never reach
//! for the HTTP edge, and README's "Layout" section names exactly the entries of `src/`.
//!
//! The compiler cannot say that `src/store/` must not use Dropshot, since one crate holds every
//! layer. This reads the source instead, so a change that breaks the layering fails with the file,
//! the line and the rule it breaks.

use std::path::{Path, PathBuf};

/// The files and folders that hold domain code or storage, which may use `model`, `error`, each
/// other and the `Store` trait, but nothing of HTTP.
const DOMAIN_AND_STORE: &[&str] = &[
    "src/accounts",
    "src/leaderboard",
    "src/games",
    "src/store",
    "src/demo",
    "src/model.rs",
    "src/error.rs",
];

/// Crates that belong to the HTTP edge: the framework, the HTTP types and the server under both.
const EDGE_CRATES: &[&str] = &["dropshot", "http", "http_body", "hyper"];

/// Modules of this crate that belong to the edge: the handlers and the generated wire types.
const EDGE_MODULES: &[&str] = &["http", "api"];

/// One use of the edge where it does not belong.
#[derive(Debug, PartialEq, Eq)]
struct Violation {
    line_number: usize,
    name: String,
    line: String,
}

/// A line without its `//` comment; `//` inside a string literal (a URL, say) is kept.
fn without_line_comment(line: &str) -> &str {
    let mut in_string = false;
    let mut escaped = false;
    let bytes = line.as_bytes();
    for (index, &byte) in bytes.iter().enumerate() {
        match byte {
            _ if escaped => escaped = false,
            b'\\' if in_string => escaped = true,
            b'"' => in_string = !in_string,
            b'/' if !in_string && bytes.get(index + 1) == Some(&b'/') => return &line[..index],
            _ => {}
        }
    }
    line
}

/// Every place in `source` that names an edge crate or an edge module of this crate.
fn edge_uses(source: &str) -> Vec<Violation> {
    let crates = EDGE_CRATES.join("|");
    let modules = EDGE_MODULES.join("|");
    // `http::Request`, `::hyper::Body` or `use http;` name a crate, `crate::http` or `crate::api`
    // the edge modules; a path that merely ends in one of the names (`my_http::x`,
    // `other::http::x`) does not.
    let crate_path =
        regex_lite::Regex::new(&format!(r"(^|[^A-Za-z0-9_:])(::)?\s*({crates})\s*::")).unwrap();
    let crate_import =
        regex_lite::Regex::new(&format!(r"\b(use|extern\s+crate)\s+({crates})\b")).unwrap();
    let module_path = regex_lite::Regex::new(&format!(r"\bcrate\s*::\s*({modules})\b")).unwrap();
    let mut violations = Vec::new();
    for (index, line) in source.lines().enumerate() {
        let code = without_line_comment(line);
        let found = module_path
            .captures(code)
            .map(|captures| format!("crate::{}", &captures[1]))
            .or_else(|| {
                crate_import
                    .captures(code)
                    .map(|captures| captures[2].to_owned())
            })
            .or_else(|| {
                crate_path
                    .captures(code)
                    .map(|captures| captures[3].to_owned())
            });
        if let Some(name) = found {
            violations.push(Violation {
                line_number: index + 1,
                name,
                line: line.trim().to_owned(),
            });
        }
    }
    violations
}

/// Every `.rs` file at or under `path`.
fn rust_files(path: &Path) -> Vec<PathBuf> {
    if path.is_file() {
        return vec![path.to_owned()];
    }
    let mut files = Vec::new();
    let entries = std::fs::read_dir(path)
        .unwrap_or_else(|error| panic!("cannot read {}: {error}", path.display()));
    for entry in entries {
        let entry_path = entry.unwrap().path();
        if entry_path.is_dir() {
            files.extend(rust_files(&entry_path));
        } else if entry_path
            .extension()
            .is_some_and(|extension| extension == "rs")
        {
            files.push(entry_path);
        }
    }
    files.sort();
    files
}

fn manifest_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn domain_folders_and_the_store_never_use_http_dropshot_or_wire_types() {
    let mut report = Vec::new();
    for entry in DOMAIN_AND_STORE {
        let path = manifest_dir().join(entry);
        assert!(
            path.exists(),
            "{entry} is listed in layering.rs but does not exist"
        );
        for file in rust_files(&path) {
            let source = std::fs::read_to_string(&file).unwrap();
            let shown = file
                .strip_prefix(manifest_dir())
                .unwrap()
                .display()
                .to_string();
            for violation in edge_uses(&source) {
                report.push(format!(
                    "{shown}:{} uses `{}` (`{}`)",
                    violation.line_number, violation.name, violation.line
                ));
            }
        }
    }
    assert!(
        report.is_empty(),
        "the domain folders and src/store/ know only domain types: HTTP, Dropshot and the wire \
         types (crate::api) belong in src/http/, which converts to and from domain types \
         (src/http/wire.rs) and maps domain errors (src/http/error.rs).\n{}",
        report.join("\n")
    );
}

#[test]
fn the_check_finds_edge_crates_and_edge_modules_but_not_comments_urls_or_lookalikes() {
    let source = r#"use dropshot::HttpError;
use http;
    let status = http::StatusCode::OK;
use crate::http::wire;
use crate::api::types::GameMode;
fn f(x: ::hyper::Body) {}
// dropshot::HttpError in a comment is fine
let url = "http://localhost:8000//api"; // and http::x after code too
use crate::store::http_like::Thing;
let my_http = other::http::call();
"#;
    let found: Vec<(usize, String)> = edge_uses(source)
        .into_iter()
        .map(|violation| (violation.line_number, violation.name))
        .collect();
    assert_eq!(
        found,
        vec![
            (1, "dropshot".to_owned()),
            (2, "http".to_owned()),
            (3, "http".to_owned()),
            (4, "crate::http".to_owned()),
            (5, "crate::api".to_owned()),
            (6, "hyper".to_owned()),
        ]
    );
}

/// The entries README's "Layout" section names under `src/`: the first word of each line of its
/// code block, with folders written `name/`.
fn readme_layout_entries() -> Vec<String> {
    let readme = std::fs::read_to_string(manifest_dir().join("README.md")).unwrap();
    let section = readme
        .split("\n## Layout\n")
        .nth(1)
        .expect("README has a \"## Layout\" section");
    let block = section
        .split("```")
        .nth(1)
        .expect("README's Layout section has a code block");
    let mut entries: Vec<String> = block
        .lines()
        .filter_map(|line| line.split_whitespace().next())
        .filter_map(|word| word.strip_prefix("src/"))
        .filter(|entry| !entry.is_empty())
        .map(|entry| entry.trim_end_matches(',').to_owned())
        .collect();
    entries.sort();
    entries
}

#[test]
fn readme_layout_section_names_every_entry_of_src_and_nothing_else() {
    let mut on_disk: Vec<String> = std::fs::read_dir(manifest_dir().join("src"))
        .unwrap()
        .map(|entry| {
            let entry = entry.unwrap();
            let name = entry.file_name().to_string_lossy().into_owned();
            if entry.path().is_dir() {
                format!("{name}/")
            } else {
                name
            }
        })
        .collect();
    on_disk.sort();
    assert_eq!(
        readme_layout_entries(),
        on_disk,
        "README's Layout section (one `src/<entry>` per line) and `ls src` disagree"
    );
}

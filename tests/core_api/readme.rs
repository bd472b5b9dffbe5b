//! The README's Retrieval and Fine-tuning examples are the ones the facade's crate docs
//! doc-test, line for line.

use std::path::Path;

/// The first ```rust block after `heading` in the README.
fn readme_block(heading: &str) -> Vec<String> {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let section = &readme[readme.find(heading).expect("the section is there")..];
    let start = section.find("```rust\n").expect("a rust block") + "```rust\n".len();
    let end = start + section[start..].find("\n```").unwrap();
    section[start..end].lines().map(str::to_string).collect()
}

/// The ``` block after `heading` in src/lib.rs's `//!` docs, without the `//! `.
fn crate_doc_block(heading: &str) -> Vec<String> {
    let lib =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("src/lib.rs")).unwrap();
    let docs: Vec<&str> = lib
        .lines()
        .filter_map(|l| l.strip_prefix("//!"))
        .map(|l| l.strip_prefix(' ').unwrap_or(l))
        .collect();
    let at = docs
        .iter()
        .position(|l| *l == heading)
        .expect("the section is there");
    let start = at + docs[at..].iter().position(|l| *l == "```").unwrap() + 1;
    let end = start + docs[start..].iter().position(|l| *l == "```").unwrap();
    docs[start..end].iter().map(|l| l.to_string()).collect()
}

#[test]
fn the_readme_retrieval_example_is_doc_tested() {
    let readme = readme_block("## Retrieval");
    assert!(
        readme.iter().any(|l| l.contains("Retrieve::new")),
        "{readme:#?}"
    );
    assert_eq!(readme, crate_doc_block("## Retrieval"));
}

#[test]
fn the_readme_finetuning_example_is_doc_tested() {
    let readme = readme_block("## Fine-tuning");
    assert!(
        readme.iter().any(|l| l.contains("training_example")),
        "{readme:#?}"
    );
    assert_eq!(readme, crate_doc_block("## Fine-tuning"));
}

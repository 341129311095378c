//! Replays the committed inputs of every fuzz target through its check:
//! `corpus/<target>/` (the seeds the fuzz engine starts from) and
//! `regressions/<target>/` (each input that once made a check fail, kept
//! after the fix). Fast: no fuzz engine, a few hundred small files.

use std::path::{Path, PathBuf};

use cdr_fuzz::TARGETS;

fn inputs(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .map(|e| e.expect("a readable entry").path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
}

fn replay(kind: &str, min: usize) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join(kind);
    for target in TARGETS {
        let files = inputs(&root.join(target.name));
        assert!(
            files.len() >= min,
            "{kind}/{}: {} inputs, want at least {min}",
            target.name,
            files.len()
        );
        for file in files {
            let data = std::fs::read(&file).expect("a readable input");
            let outcome = std::panic::catch_unwind(|| (target.check)(&data));
            assert!(outcome.is_ok(), "{} fails its check", file.display());
        }
    }
    // Every folder is a target's: a renamed target leaves no corpus unread.
    for entry in std::fs::read_dir(&root).into_iter().flatten() {
        let name = entry.expect("an entry").file_name();
        let name = name.to_string_lossy();
        assert!(
            TARGETS.iter().any(|t| t.name == name)
                || (name == "s3_url" && cfg!(not(feature = "s3"))),
            "{kind}/{name} belongs to no target"
        );
    }
}

#[test]
fn every_seed_passes_its_check() {
    replay("corpus", 3);
}

#[test]
fn every_input_that_once_failed_passes_now() {
    replay("regressions", 0);
}

/// The csv_lines check counts with one rewound reader: it counts as new ones
/// do, whatever came before.
#[test]
fn a_rewound_csv_reader_counts_as_a_new_one() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut texts: Vec<Vec<u8>> = ["corpus", "regressions"]
        .iter()
        .flat_map(|kind| inputs(&root.join(kind).join("csv_lines")))
        .map(|f| std::fs::read(f).expect("a readable input"))
        .map(|data| data.get(1..).unwrap_or_default().to_vec())
        .collect();
    texts.extend([b"".to_vec(), b"d".to_vec(), b"\"x".to_vec(), b"d".to_vec()]);
    for text in texts {
        assert_eq!(
            cdr_fuzz::csv_lines::csv_records_rewound(&text),
            cdr_fuzz::csv_lines::csv_records_fresh(&text),
            "{:?}",
            String::from_utf8_lossy(&text)
        );
    }
}

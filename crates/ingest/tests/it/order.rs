//! Rows keep the file's order: the table's data files, read in the order of their add actions in the
//! Delta log (commits ascending, adds in order within a commit), give the CSV's rows in order, whatever
//! the size, line endings, final line break, quoted line breaks, widening restarts and worker count.

use std::io::Write;
use std::path::Path;
use std::sync::atomic::AtomicBool;

use delta_bridge_ingest::{
    Codec, ColumnType, ConvertOptions, Mode, OnMismatch, Options, convert, table_files,
};

/// A reproducible stream of numbers below `n` (a 64-bit linear congruential generator).
fn draws(mut seed: u64) -> impl FnMut(usize) -> usize {
    move |n| {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (seed >> 33) as usize % n
    }
}

/// The live data files of the table, in the order of their add actions, read from the JSON commits
/// of `_delta_log` alone (no Delta library in between).
fn files_in_log_order(table: &Path) -> Vec<String> {
    let mut commits: Vec<_> = std::fs::read_dir(table.join("_delta_log"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    commits.sort();
    let mut live: Vec<String> = Vec::new();
    for commit in commits {
        for line in std::fs::read_to_string(commit).unwrap().lines() {
            let action: serde_json::Value = serde_json::from_str(line).unwrap();
            if let Some(path) = action["add"]["path"].as_str() {
                live.retain(|p| p != path);
                live.push(path.to_string());
            }
            if let Some(path) = action["remove"]["path"].as_str() {
                live.retain(|p| p != path);
            }
        }
    }
    live
}

/// Every row of the table, as text (`∅` for null), reading its files in log order; also checks
/// that `table_files` (what an upload sends, in that order) agrees.
fn rows_in_log_order(table: &Path) -> Vec<Vec<String>> {
    let files = files_in_log_order(table);
    assert_eq!(
        table_files(table).unwrap(),
        files,
        "table_files is in log order"
    );
    super::convert::file_rows(table, &files)
}

const LABELS: [&str; 8] = [
    "plain",
    "Zoë",
    "two\nlines",
    "comma, inside",
    "say \"hi\"",
    "\"quoted\nand broken\"",
    "日本",
    "x",
];

/// A CSV field: quoted when it must be.
fn field(value: &str) -> String {
    if value.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value.to_string()
    }
}

/// `id,label,qty` rows: the id is the row's place, so any reordering shows.
fn random_rows(next: &mut impl FnMut(usize) -> usize, count: usize) -> Vec<Vec<String>> {
    (0..count)
        .map(|i| {
            vec![
                i.to_string(),
                LABELS[next(LABELS.len())].to_string(),
                (next(1_000_000) as i64 - 500_000).to_string(),
            ]
        })
        .collect()
}

fn csv_text(rows: &[Vec<String>], ending: &str, final_break: bool) -> String {
    let mut text = format!("id,label,qty{ending}");
    for (i, row) in rows.iter().enumerate() {
        let line: Vec<String> = row.iter().map(|v| field(v)).collect();
        text.push_str(&line.join(","));
        if i + 1 < rows.len() || final_break {
            text.push_str(ending);
        }
    }
    text
}

fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::File::create(&path)
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    path
}

fn options(block_bytes: usize, target_file_bytes: usize, threads: usize) -> ConvertOptions {
    ConvertOptions {
        read: Options {
            has_header: Some(true),
            delimiter: Some(b','),
            types: vec![
                (0, ColumnType::Int64),
                (1, ColumnType::String),
                (2, ColumnType::Int64),
            ],
            ..Default::default()
        },
        block_bytes,
        target_file_bytes,
        threads: Some(threads),
        ..Default::default()
    }
}

fn run(file: &Path, table: &Path, options: &ConvertOptions) -> delta_bridge_ingest::Converted {
    convert(file, table, options, &|_| {}, &AtomicBool::new(false)).unwrap()
}

#[test]
fn a_file_without_a_final_line_break_keeps_its_last_row_last() {
    let dir = tempfile::tempdir().unwrap();
    for (e, ending) in ["\n", "\r\n", "\r"].into_iter().enumerate() {
        for final_break in [false, true] {
            let rows: Vec<Vec<String>> = (0..5)
                .map(|i| vec![i.to_string(), format!("day {i}"), (i * 10).to_string()])
                .collect();
            let file = write(
                dir.path(),
                "small.csv",
                &csv_text(&rows, ending, final_break),
            );
            let table = dir.path().join(format!("t-{e}-{final_break}"));
            run(&file, &table, &options(4 << 20, 128 << 20, 2));
            assert_eq!(
                rows_in_log_order(&table),
                rows,
                "{ending:?}, final line break {final_break}"
            );
        }
    }
}

#[test]
fn random_tables_of_many_chunks_and_files_read_back_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let mut next = draws(12);
    let mut case = 0;
    for ending in ["\n", "\r\n", "\r"] {
        for final_break in [false, true] {
            for size in [1, 40, 3_000, 30_000] {
                let count = size + next(size);
                let rows = random_rows(&mut next, count);
                let file = write(
                    dir.path(),
                    "rows.csv",
                    &csv_text(&rows, ending, final_break),
                );
                let table = dir.path().join(format!("t{case}"));
                case += 1;
                // Blocks of 64 KiB (the smallest): a 30,000-row file is about 20 chunks. Files of
                // 16 KiB to 1 MiB: one to dozens of files; one to four workers.
                let target = 16 << (10 + next(7));
                let threads = 1 + next(4);
                let converted = run(&file, &table, &options(64 << 10, target, threads));
                assert_eq!(converted.rows, count as u64);
                let got = rows_in_log_order(&table);
                let first_difference = got.iter().zip(&rows).position(|(a, b)| a != b);
                assert!(
                    got.len() == rows.len() && first_difference.is_none(),
                    "{ending:?}, final line break {final_break}, {count} rows, files of {target} bytes, \
                     {threads} workers, {} files: first difference at row {first_difference:?}",
                    converted.files
                );
            }
        }
    }
}

#[test]
fn rows_keep_their_order_after_a_widening_restart_and_across_appends() {
    let dir = tempfile::tempdir().unwrap();
    // 50,000 whole numbers, then one that is not: past the preview's sample, in a late chunk.
    let mut text = String::from("id,amount\n");
    for i in 0..50_000 {
        text.push_str(&format!("{i},{}\n", i * 3));
    }
    text.push_str("50000,2.5");
    let file = write(dir.path(), "late.csv", &text);
    let table = dir.path().join("t");
    let options = ConvertOptions {
        on_mismatch: OnMismatch::Widen,
        block_bytes: 64 << 10,
        target_file_bytes: 64 << 10,
        threads: Some(2),
        // Uncompressed, so that these few rows still fill several files.
        codec: Codec::Uncompressed,
        ..Default::default()
    };
    let converted = run(&file, &table, &options);
    assert_eq!(converted.widened.len(), 1, "the amount column was widened");
    assert!(converted.files > 1);
    let second = write(dir.path(), "more.csv", "id,amount\n50001,1.5\n50002,0.5\n");
    run(
        &second,
        &table,
        &ConvertOptions {
            mode: Mode::Append,
            ..options.clone()
        },
    );
    let rows = rows_in_log_order(&table);
    let ids: Vec<u64> = rows.iter().map(|r| r[0].parse().unwrap()).collect();
    let misplaced = ids.iter().enumerate().position(|(i, id)| *id != i as u64);
    assert_eq!(
        (ids.len(), misplaced),
        (50_003, None),
        "the first id out of place"
    );
    let amounts: Vec<f64> = rows.iter().map(|r| r[1].parse().unwrap()).collect();
    assert_eq!(amounts[49_999], 149_997.0);
    assert_eq!(amounts[50_000..], [2.5, 1.5, 0.5]);
}

#[test]
fn table_files_follow_the_log_not_the_names() {
    // A table whose file names sort against the log: `z` added first, then `a`, then `m` in a
    // second commit (what two conversions in two processes can give, each counting from 0).
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("source");
    let file = write(dir.path(), "one.csv", "id,label,qty\n1,one,1\n");
    run(&file, &source, &options(4 << 20, 128 << 20, 1));
    let data = files_in_log_order(&source).remove(0);
    let log = std::fs::read_to_string(source.join("_delta_log/00000000000000000000.json")).unwrap();
    let add = log.lines().find(|l| l.starts_with("{\"add\"")).unwrap();
    let header: Vec<&str> = log.lines().filter(|l| !l.starts_with("{\"add\"")).collect();
    let table = dir.path().join("t");
    std::fs::create_dir_all(table.join("_delta_log")).unwrap();
    for name in ["z.parquet", "a.parquet", "m.parquet"] {
        std::fs::copy(source.join(&data), table.join(name)).unwrap();
    }
    let add_of = |name: &str| add.replace(&data, name);
    let first = [header.join("\n"), add_of("z.parquet"), add_of("a.parquet")].join("\n");
    write(
        &table.join("_delta_log"),
        "00000000000000000000.json",
        &first,
    );
    write(
        &table.join("_delta_log"),
        "00000000000000000001.json",
        &add_of("m.parquet"),
    );
    assert_eq!(
        table_files(&table).unwrap(),
        ["z.parquet", "a.parquet", "m.parquet"]
    );
}

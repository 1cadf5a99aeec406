//! `delta-bridge`: the product from a terminal. Each subcommand parses its arguments, calls one library
//! function and prints the result (`--json` for scripts). Local commands (preview, convert) are here;
//! those that talk to the backend are in `remote.rs`.

mod recipients;
mod remote;

use std::path::PathBuf;
use std::process::ExitCode;

use std::io::IsTerminal;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use clap::{Args, Parser, Subcommand};
use delta_bridge_ingest::{
    Codec, ColumnType, ConvertOptions, Format, Mode, OnMismatch, Options, Preview, Progress,
    ReadText,
};

#[derive(Debug, Parser)]
#[command(
    name = "delta-bridge",
    version,
    about = "Share CSV, Excel, JSON and Parquet files as Delta tables."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    #[command(flatten)]
    connection: remote::Connection,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Show how a file (CSV, TSV, .csv.gz, a zip of CSVs, Excel, JSON, NDJSON, Parquet) is read, the schema it will get and its first rows (reads only its head).
    Preview {
        /// The file.
        file: PathBuf,
        /// Rows to show.
        #[arg(long, default_value_t = 100)]
        rows: usize,
        #[command(flatten)]
        read: ReadArgs,
        /// Print JSON instead of tables.
        #[arg(long)]
        json: bool,
    },
    /// Convert a file into a local Delta table (streaming, on every core).
    Convert {
        /// The file.
        file: PathBuf,
        /// The table directory.
        #[arg(long)]
        out: PathBuf,
        /// Table name recorded in the Delta metadata.
        #[arg(long)]
        name: Option<String>,
        /// Create a new table, append to one, or overwrite one (each makes a new version).
        #[arg(long, value_parser = mode_parser(), default_value_t = Mode::Create)]
        mode: Mode,
        /// Fail on a value that does not fit its column's type instead of widening the column.
        #[arg(long)]
        strict: bool,
        /// Compression of the data files: zstd (level 1, the default), zstd:N, snappy, lz4 or none.
        #[arg(long, value_parser = |s: &str| s.parse::<Codec>())]
        compression: Option<Codec>,
        #[command(flatten)]
        read: ReadArgs,
        /// Print the result as JSON (location, version, rows, bytes, schema).
        #[arg(long)]
        json: bool,
    },
    #[command(flatten)]
    Remote(remote::Remote),
}

/// `--mode`: the workspace's one [`Mode`], offered by its names.
fn mode_parser() -> impl clap::builder::TypedValueParser<Value = Mode> {
    use clap::builder::TypedValueParser as _;
    clap::builder::PossibleValuesParser::new(Mode::ALL.map(Mode::as_str))
        .map(|name| name.parse::<Mode>().expect("one of the listed modes"))
}

/// Overrides of what is detected.
#[derive(Debug, Args)]
struct ReadArgs {
    /// Encoding: utf-8, utf-8-bom, utf-16le, utf-16be, windows-1252.
    #[arg(long)]
    encoding: Option<String>,
    /// Delimiter: a single character, or `tab` (or `\t`).
    #[arg(long)]
    delimiter: Option<String>,
    /// Quote character (default `"`).
    #[arg(long)]
    quote: Option<char>,
    /// The first row holds column names.
    #[arg(long, conflicts_with = "no_header")]
    header: bool,
    /// The first row is data.
    #[arg(long)]
    no_header: bool,
    /// Column type, as N=TYPE (1-based column; int64, float64, boolean, date, date:dmy, date:mdy, timestamp, string). Repeatable.
    #[arg(long = "type", value_name = "N=TYPE")]
    types: Vec<String>,
    /// Column name, as N=NAME (1-based column). Repeatable.
    #[arg(long = "rename", value_name = "N=NAME")]
    names: Vec<String>,
    /// A workbook's sheet, by name or 1-based position (default: the first visible sheet with data).
    #[arg(long, value_name = "NAME|N")]
    sheet: Option<String>,
}

impl ReadArgs {
    /// The flags as the ingest library's read options (the same rules as the app's preview edits).
    fn text(&self) -> anyhow::Result<ReadText> {
        let specs = |specs: &[String], flag: &str| -> anyhow::Result<Vec<(usize, String)>> {
            specs
                .iter()
                .map(|spec| {
                    delta_bridge_ingest::options::column_spec(spec)
                        .map(|(i, value)| (i, value.to_string()))
                        .map_err(|e| anyhow::anyhow!("{flag} {e}"))
                })
                .collect()
        };
        Ok(ReadText {
            names: specs(&self.names, "--rename")?,
            types: specs(&self.types, "--type")?,
            delimiter: self.delimiter.clone(),
            encoding: self.encoding.clone(),
            quote: self.quote.map(String::from),
            has_header: if self.header {
                Some(true)
            } else if self.no_header {
                Some(false)
            } else {
                None
            },
            sheet: self.sheet.clone(),
        })
    }

    fn options(&self, rows: usize) -> anyhow::Result<Options> {
        Ok(self.text()?.options(Some(rows))?)
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("delta-bridge: {err:#}");
            ExitCode::from(exit_code(&err))
        }
    }
}

/// 2 for usage, 3 for bad input files and tables (or a request the backend refused), 4 for sign-in,
/// 5 for the network, 130 when cancelled.
fn exit_code(err: &anyhow::Error) -> u8 {
    if let Some(e) = err.downcast_ref::<delta_bridge_client::Error>() {
        remote::exit_code(e)
    } else if err.downcast_ref::<delta_bridge_ingest::Error>().is_some() {
        3
    } else {
        2
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Remote(command) => remote::run(&cli.connection, command),
        Command::Convert {
            file,
            out,
            name,
            mode,
            strict,
            compression,
            read,
            json,
        } => {
            let options = ConvertOptions {
                codec: compression.unwrap_or_default(),
                read: read.options(100)?,
                mode,
                name,
                on_mismatch: if strict {
                    OnMismatch::Fail
                } else {
                    OnMismatch::Widen
                },
                ..ConvertOptions::default()
            };
            let cancel = Arc::new(AtomicBool::new(false));
            let on_interrupt = cancel.clone();
            // Ctrl-C cancels: the conversion removes what it wrote before the process exits.
            let _ = ctrlc::set_handler(move || on_interrupt.store(true, Ordering::Relaxed));
            let bar = ProgressBar::new(!json && std::io::stderr().is_terminal());
            let result = delta_bridge_ingest::convert(
                &file,
                &out,
                &options,
                &|p: Progress| bar.show("converting", p.bytes_done, p.bytes_total),
                &cancel,
            );
            bar.finish();
            let converted = result?;
            if json {
                emit(&(serde_json::to_string_pretty(&converted)? + "\n"));
            } else {
                let mut text = format!(
                    "{}: version {} with {} rows in {} file(s), {} bytes\n",
                    converted.location,
                    converted.version,
                    converted.rows,
                    converted.files,
                    converted.bytes
                );
                for w in &converted.widened {
                    text += &format!(
                        "note: column '{}' became {} (was {}): row {} has '{}'\n",
                        w.column, w.to, w.from, w.row, w.value
                    );
                }
                for warning in &converted.warnings {
                    text += &format!("note: {warning}\n");
                }
                emit(&text);
            }
            Ok(())
        }
        Command::Preview {
            file,
            rows,
            read,
            json,
        } => {
            let options = read.options(rows)?;
            let preview = delta_bridge_ingest::preview(&file, &options)?;
            if json {
                emit(&(serde_json::to_string_pretty(&preview)? + "\n"));
            } else {
                emit(&render_preview(&preview));
            }
            Ok(())
        }
    }
}

/// Writes to standard output; a reader that went away (`| head`) is not an error.
fn emit(text: &str) {
    use std::io::Write as _;
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
}

/// A one-line progress bar on standard error, drawn only on a terminal.
struct ProgressBar {
    enabled: bool,
    started: Instant,
}

impl ProgressBar {
    fn new(enabled: bool) -> Self {
        ProgressBar {
            enabled,
            started: Instant::now(),
        }
    }

    fn show(&self, label: &str, done: u64, total: u64) {
        if !self.enabled || total == 0 {
            return;
        }
        let fraction = (done as f64 / total as f64).min(1.0);
        let filled = (fraction * 30.0) as usize;
        let elapsed = self.started.elapsed().as_secs_f64();
        let rate = done as f64 / elapsed.max(0.001) / 1e6;
        let left = if fraction > 0.0 {
            elapsed * (1.0 - fraction) / fraction
        } else {
            0.0
        };
        eprint!(
            "\r{label:<10} [{}{}] {:5.1}%  {:.0} MB/s  {:.0}s left ",
            "#".repeat(filled),
            " ".repeat(30 - filled),
            fraction * 100.0,
            rate,
            left
        );
    }

    fn finish(&self) {
        if self.enabled {
            eprintln!();
        }
    }
}

fn render_preview(preview: &Preview) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let d = &preview.dialect;
    let delimiter = match d.delimiter {
        b'\t' => "tab".to_string(),
        other => format!("'{}'", other as char),
    };
    let header = if d.has_header {
        "header row"
    } else {
        "no header row"
    };
    match preview.format {
        Format::Csv | Format::Tsv | Format::Gzip | Format::Zip => {
            let _ = writeln!(
                out,
                "{}: {}, delimiter {delimiter}, {header}, {:?} line endings",
                preview.file.display(),
                d.encoding.name(),
                d.line_ending
            );
        }
        format => {
            let format = serde_json::to_value(format)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default();
            let _ = writeln!(out, "{}: {format}, {header}", preview.file.display());
        }
    }
    if let Some(sheet) = &preview.sheet {
        let sheets: Vec<String> = preview
            .sheets
            .iter()
            .enumerate()
            .map(|(i, s)| {
                format!(
                    "{} {}{}",
                    i + 1,
                    s.name,
                    if s.hidden { " (hidden)" } else { "" }
                )
            })
            .collect();
        let _ = writeln!(
            out,
            "sheet '{sheet}' of: {} (choose with --sheet)",
            sheets.join(", ")
        );
    }
    out.push('\n');
    let _ = writeln!(
        out,
        "{:<4} {:<28} {:<14} from header",
        "#", "column", "type"
    );
    for (i, column) in preview.columns.iter().enumerate() {
        let type_name = match &column.column_type {
            ColumnType::Date { order } => format!("date:{}", format!("{order:?}").to_lowercase()),
            ColumnType::Float64 {
                decimal_comma: true,
            } => "float64:comma".to_string(),
            other => other.name().to_string(),
        };
        let _ = writeln!(
            out,
            "{:<4} {:<28} {:<14} {}",
            i + 1,
            column.name,
            type_name,
            column.header
        );
    }
    for warning in &preview.warnings {
        let _ = writeln!(out, "note: {warning}");
    }
    out.push('\n');
    let widths: Vec<usize> = preview
        .columns
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let longest = preview
                .rows
                .iter()
                .map(|r| r[i].as_deref().map_or(0, |v| v.chars().count()))
                .max()
                .unwrap_or(0);
            longest.max(c.name.chars().count()).clamp(4, 24)
        })
        .collect();
    let cell = |text: &str, width: usize| {
        let clean: String = text
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        let shown: String = if clean.chars().count() > width {
            clean.chars().take(width - 1).chain(['…']).collect()
        } else {
            clean
        };
        format!("{shown:<width$}")
    };
    let header: Vec<String> = preview
        .columns
        .iter()
        .zip(&widths)
        .map(|(c, w)| cell(&c.name, *w))
        .collect();
    let _ = writeln!(out, "{}", header.join(" | "));
    for row in &preview.rows {
        let cells: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(v, w)| cell(v.as_deref().unwrap_or(""), *w))
            .collect();
        let _ = writeln!(out, "{}", cells.join(" | "));
    }
    let _ = writeln!(
        out,
        "\n{} rows shown, types inferred from {} rows{}",
        preview.rows.len(),
        preview.sampled_rows,
        if preview.complete {
            " (the whole file)"
        } else {
            ""
        }
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(args: &[&str]) -> anyhow::Result<Options> {
        let cli = Cli::try_parse_from(
            ["delta-bridge", "preview", "f.csv"]
                .iter()
                .chain(args)
                .copied(),
        )?;
        match cli.command {
            Command::Preview { read, .. } => read.options(5),
            _ => unreachable!(),
        }
    }

    #[test]
    fn flags_are_read_options_by_the_ingest_librarys_rules() {
        for tab in ["tab", "\t", "\\t"] {
            assert_eq!(read(&["--delimiter", tab]).unwrap().delimiter, Some(b'\t'));
        }
        let options = read(&["--type", "2=text", "--rename", "1=postcode", "--no-header"]).unwrap();
        assert_eq!(options.types, vec![(1, ColumnType::String)]);
        assert_eq!(options.names, vec![(0, "postcode".to_string())]);
        assert_eq!(options.has_header, Some(false));
        assert_eq!(options.rows, Some(5));
        let e = read(&["--type", "0=text"]).unwrap_err().to_string();
        assert!(e.starts_with("--type") && e.contains("from 1"), "{e}");
        let e = read(&["--type", "2=money"]).unwrap_err().to_string();
        assert!(e.contains("column 2") && e.contains("money"), "{e}");
    }
}

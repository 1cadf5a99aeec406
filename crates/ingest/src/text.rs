//! Delimited text in its wrappings: a plain `.csv` or `.tsv`, gzip (`.csv.gz`, every member read one
//! after the other), and a zip of CSV files with the same columns, which become one table (members
//! in name order; the header of each is dropped).
//!
//! Every part is read by the same CSV reader ([`crate::convert::split`]) into the same queue, so a zip's
//! rows keep their order across members and an error names the member: `data.zip/2024-02.csv: row 7`.

use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use flate2::read::MultiGzDecoder;

use crate::convert::{Feed, Part, PassError, split};
use crate::preview::{Options, Preview, preview_text};
use crate::source::{Counting, Format, io, label};
use crate::{Error, Result};

/// A zip member that is read: not a directory, not macOS metadata, not hidden.
fn is_member(name: &str) -> bool {
    !name.ends_with('/')
        && !name.starts_with("__MACOSX/")
        && !name.rsplit('/').next().unwrap_or(name).starts_with('.')
}

/// Delimited text being converted.
pub(crate) struct TextInput {
    file: PathBuf,
    format: Format,
    /// The parts, in order, with their zip member index (zip only).
    parts: Vec<(Option<usize>, Arc<Part>)>,
    /// Bytes a pass reads: the file's, or a zip's members' uncompressed sizes.
    total: u64,
}

impl TextInput {
    pub(crate) fn open(path: &Path, format: Format, options: &Options) -> Result<(Self, Preview)> {
        let mut options = options.clone();
        if format == Format::Tsv && options.delimiter.is_none() {
            options.delimiter = Some(b'\t');
        }
        let file = File::open(path).map_err(io(path))?;
        let size = file.metadata().map_err(io(path))?.len();
        let (parts, preview, total) = match format {
            Format::Zip => return Self::open_zip(path, file, size, &options),
            Format::Gzip => {
                let preview = preview_text(
                    MultiGzDecoder::new(BufReader::new(file)),
                    path,
                    size,
                    &options,
                )
                .map_err(|e| gzip_error(path, e))?;
                (vec![(None, part(path, &preview))], preview, size)
            }
            _ => {
                let preview = preview_text(file, path, size, &options)?;
                (vec![(None, part(path, &preview))], preview, size)
            }
        };
        let input = TextInput {
            file: path.to_path_buf(),
            format,
            parts,
            total,
        };
        Ok((input, preview))
    }

    fn open_zip(path: &Path, file: File, size: u64, options: &Options) -> Result<(Self, Preview)> {
        let mut archive =
            zip::ZipArchive::new(BufReader::new(file)).map_err(|e| zip_error(path, e))?;
        let mut members: Vec<(String, usize, u64)> = Vec::new();
        for index in 0..archive.len() {
            let entry = archive
                .by_index_raw(index)
                .map_err(|e| zip_error(path, e))?;
            let name = entry.name().map_err(|e| zip_error(path, e))?.to_string();
            if is_member(&name) {
                members.push((name, index, entry.size()));
            }
        }
        members.sort();
        if members.is_empty() {
            return Err(Error::NoData {
                file: path.to_path_buf(),
            });
        }
        let mut parts = Vec::new();
        let mut first: Option<Preview> = None;
        let mut different = Vec::new();
        for (name, index, _) in &members {
            let member_label = label(path, &format!("/{name}"));
            let entry = archive.by_index(*index).map_err(|e| zip_error(path, e))?;
            let preview = preview_text(entry, &member_label, size, options)?;
            parts.push((Some(*index), part(&member_label, &preview)));
            match &first {
                None => first = Some(preview),
                Some(first) => {
                    let names = |p: &Preview| {
                        p.columns
                            .iter()
                            .map(|c| c.name.to_lowercase())
                            .collect::<Vec<_>>()
                    };
                    if names(first) != names(&preview) {
                        different.push(name.clone());
                    }
                }
            }
        }
        let first = first.expect("a member");
        if !different.is_empty() {
            let columns: Vec<&str> = first.columns.iter().map(|c| c.name.as_str()).collect();
            return Err(Error::Unreadable {
                file: path.to_path_buf(),
                message: format!(
                    "the files in a zip become one table, so they must have the same columns; {} {} not have the columns of {} ({}); zip them separately",
                    different.join(", "),
                    if different.len() == 1 { "does" } else { "do" },
                    members[0].0,
                    columns.join(", ")
                ),
            });
        }
        let mut preview = Preview {
            file: path.to_path_buf(),
            file_size: size,
            ..first
        };
        if members.len() > 1 {
            let names: Vec<&str> = members.iter().map(|(n, _, _)| n.as_str()).collect();
            preview.warnings.push(format!(
                "{} files become one table, in this order: {}",
                members.len(),
                names.join(", ")
            ));
        }
        let input = TextInput {
            file: path.to_path_buf(),
            format: Format::Zip,
            parts,
            total: members.iter().map(|(_, _, size)| size).sum(),
        };
        Ok((input, preview))
    }

    pub(crate) fn file(&self) -> &Path {
        &self.file
    }

    pub(crate) fn feed(
        &self,
        block_bytes: usize,
        feed: &mut Feed,
    ) -> std::result::Result<(), PassError> {
        feed.total = self.total;
        let fatal = |e: Error| PassError::Fatal(e);
        let file = File::open(&self.file)
            .map_err(io(&self.file))
            .map_err(fatal)?;
        let counted = |inner| Counting {
            inner,
            done: feed.done.clone(),
        };
        match self.format {
            Format::Zip => {
                let mut archive = zip::ZipArchive::new(BufReader::new(file))
                    .map_err(|e| fatal(zip_error(&self.file, e)))?;
                for (index, part) in &self.parts {
                    if feed.stopped() {
                        return Ok(());
                    }
                    let entry = archive
                        .by_index(index.expect("a zip member"))
                        .map_err(|e| fatal(zip_error(&self.file, e)))?;
                    let mut reader = Counting {
                        inner: entry,
                        done: feed.done.clone(),
                    };
                    split(&mut reader, part, block_bytes, feed)?;
                }
                Ok(())
            }
            Format::Gzip => {
                let mut reader = MultiGzDecoder::new(BufReader::new(counted(file)));
                split(&mut reader, &self.parts[0].1, block_bytes, feed).map_err(|e| match e {
                    PassError::Fatal(e) => PassError::Fatal(gzip_error(&self.file, e)),
                    other => other,
                })
            }
            _ => split(&mut counted(file), &self.parts[0].1, block_bytes, feed),
        }
    }
}

fn part(label: &Path, preview: &Preview) -> Arc<Part> {
    Arc::new(Part {
        label: Arc::from(label),
        dialect: preview.dialect.clone(),
    })
}

fn zip_error(path: &Path, error: zip::result::ZipError) -> Error {
    Error::Unreadable {
        file: path.to_path_buf(),
        message: format!("this zip archive cannot be read: {error}"),
    }
}

/// A gzip stream that is damaged says so (rather than "invalid input" from a CSV reader).
fn gzip_error(path: &Path, error: Error) -> Error {
    match error {
        Error::Io { source, .. }
            if source.kind() == std::io::ErrorKind::InvalidInput
                || source.kind() == std::io::ErrorKind::InvalidData
                || source.kind() == std::io::ErrorKind::UnexpectedEof =>
        {
            Error::Unreadable {
                file: path.to_path_buf(),
                message: format!("this gzip file is damaged or cut short: {source}"),
            }
        }
        other => other,
    }
}

//! The files that make up one list: which files a format reads, their bytes, the content hash,
//! and turning bytes into text with errors that point at the bad byte.
//!
//! Files are read whole: the largest official list is a few MB, and parsing from one buffer lets
//! the importers borrow field text instead of copying it.

use std::borrow::Cow;
use std::fs;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::{ListError, ListFormat};

/// One file of a list, with its name relative to the list's root (the file name itself for a
/// one-file list).
#[derive(Debug, Clone)]
pub struct ListFile {
    pub name: String,
    pub path: PathBuf,
    pub bytes: Vec<u8>,
}

/// All files of one list, sorted by relative name. The importers take this rather than a path so
/// that lists can also be parsed from memory (tests, uploads, the embedded demo list).
#[derive(Debug, Clone)]
pub struct ListFiles {
    /// The path the operator configured (a file or a directory).
    pub root: PathBuf,
    pub files: Vec<ListFile>,
}

impl ListFiles {
    /// A list held in memory; `root` is only used in error messages.
    pub fn from_memory(root: impl Into<PathBuf>, files: Vec<(&str, Vec<u8>)>) -> Self {
        let root = root.into();
        let mut files: Vec<ListFile> = files
            .into_iter()
            .map(|(name, bytes)| ListFile { name: name.to_string(), path: root.join(name), bytes })
            .collect();
        files.sort_by(|a, b| a.name.cmp(&b.name));
        ListFiles { root, files }
    }

    /// Reads the files `format` uses from `path` (a file, or a directory for the multi-file
    /// formats).
    pub fn read(path: &Path, format: ListFormat) -> Result<Self, ListError> {
        let meta = fs::metadata(path).map_err(|e| ListError::io(path, e))?;
        let names: Vec<String> = if meta.is_dir() {
            let entries = dir_file_names(path)?;
            let chosen = files_for_format(format, &entries);
            if chosen.is_empty() {
                return Err(ListError::UnknownFormat {
                    path: path.display().to_string(),
                    reason: format!("the directory holds no file a `{format}` list is made of"),
                });
            }
            chosen
        } else {
            Vec::new()
        };
        let mut files = Vec::new();
        if meta.is_dir() {
            for name in names {
                let p = path.join(&name);
                let bytes = fs::read(&p).map_err(|e| ListError::io(&p, e))?;
                files.push(ListFile { name, path: p, bytes });
            }
        } else {
            let bytes = fs::read(path).map_err(|e| ListError::io(path, e))?;
            let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            files.push(ListFile { name, path: path.to_path_buf(), bytes });
        }
        files.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(ListFiles { root: path.to_path_buf(), files })
    }

    /// The one file of a one-file list.
    pub(crate) fn only(&self) -> Result<&ListFile, ListError> {
        match self.files.as_slice() {
            [f] => Ok(f),
            [] => Err(ListError::malformed(&self.root, "directory", "no list file")),
            many => Err(ListError::malformed(
                &self.root,
                "directory",
                format!("this format is one file, found {} files", many.len()),
            )),
        }
    }

    /// The file with this name, compared without case (OFAC has published both `SDN.CSV` and
    /// `sdn.csv`).
    pub fn get(&self, name: &str) -> Option<&ListFile> {
        self.files.iter().find(|f| f.name.eq_ignore_ascii_case(name))
    }

    /// `sha256:<hex>`. One file: the SHA-256 of its bytes, so it can be checked with `sha256sum`.
    /// Several files: for each file in name order, its name, a 0 byte, its length as 8 bytes
    /// little-endian and its bytes — unambiguous, and independent of directory listing order.
    pub fn content_hash(&self) -> String {
        let mut h = Sha256::new();
        if let [only] = self.files.as_slice() {
            h.update(&only.bytes);
        } else {
            for f in &self.files {
                h.update(f.name.as_bytes());
                h.update([0u8]);
                h.update((f.bytes.len() as u64).to_le_bytes());
                h.update(&f.bytes);
            }
        }
        format!("sha256:{}", hex::encode(h.finalize()))
    }
}

/// Regular, non-hidden files of a directory (not recursive), sorted.
pub(crate) fn dir_file_names(dir: &Path) -> Result<Vec<String>, ListError> {
    let mut names = Vec::new();
    for entry in fs::read_dir(dir).map_err(|e| ListError::io(dir, e))? {
        let entry = entry.map_err(|e| ListError::io(dir, e))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') {
            continue;
        }
        let is_file = entry.file_type().map(|t| t.is_file() || t.is_symlink()).unwrap_or(false);
        if is_file && entry.path().is_file() {
            names.push(name);
        }
    }
    names.sort();
    Ok(names)
}

/// Files that are documentation next to a list, never list data.
pub(crate) fn is_doc_file(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    lower.ends_with(".md")
        || lower.starts_with("readme")
        || lower.starts_with("license")
        || lower.starts_with("licence")
        || lower.starts_with("sha256sums")
        || lower.starts_with("provenance")
}

/// Which files of a directory belong to a list of `format`.
pub(crate) fn files_for_format(format: ListFormat, names: &[String]) -> Vec<String> {
    let pick = |wanted: &[&str]| -> Vec<String> {
        names.iter().filter(|n| wanted.iter().any(|w| n.eq_ignore_ascii_case(w))).cloned().collect()
    };
    match format {
        ListFormat::OfacSdn => pick(&["sdn.csv", "alt.csv", "add.csv", "sdn_comments.csv"]),
        ListFormat::OfacCons => pick(&["cons_prim.csv", "cons_alt.csv", "cons_add.csv", "cons_comments.csv"]),
        ListFormat::OfacCrypto => names
            .iter()
            .filter(|n| {
                let l = n.to_ascii_lowercase();
                (l.starts_with("sanctioned_addresses_") && (l.ends_with(".txt") || l.ends_with(".json")))
                    || l == "sanctioned-addresses.json"
            })
            .cloned()
            .collect(),
        ListFormat::EuJournal => names.iter().filter(|n| n.to_ascii_lowercase().ends_with(".csv")).cloned().collect(),
        // One-file formats: a directory holding exactly one data file stands for that file.
        _ => {
            let data: Vec<String> = names.iter().filter(|n| !is_doc_file(n)).cloned().collect();
            if data.len() == 1 { data } else { Vec::new() }
        }
    }
}

/// Strips what some publishers put around the text: a UTF-8 byte-order mark in front, the DOS
/// end-of-file byte 0x1A (OFAC's legacy CSVs) at the end.
fn trim_markers(bytes: &[u8]) -> &[u8] {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let mut end = bytes.len();
    while end > 0 && bytes[end - 1] == 0x1A {
        end -= 1;
    }
    &bytes[..end]
}

/// The file as UTF-8 text; invalid UTF-8 is refused with its line and byte offset.
pub(crate) fn utf8_text(file: &ListFile) -> Result<&str, ListError> {
    let bytes = trim_markers(&file.bytes);
    std::str::from_utf8(bytes).map_err(|e| {
        let at = e.valid_up_to();
        let line = 1 + bytes[..at].iter().filter(|&&b| b == b'\n').count();
        ListError::malformed(
            &file.path,
            format!("line {line} (byte offset {at})"),
            "invalid UTF-8: this format must be UTF-8 encoded",
        )
    })
}

/// The file decoded as Windows-1252 (a superset of Latin-1 for printable text), as the UK HMT and
/// EU FSF legacy CSVs are published. Every byte sequence decodes, so this cannot fail.
pub(crate) fn latin1_text(file: &ListFile) -> Cow<'_, str> {
    let (text, _, _) = encoding_rs::WINDOWS_1252.decode(trim_markers(&file.bytes));
    text
}

/// UTF-8 when the file is valid UTF-8, else Windows-1252: OFAC's legacy CSVs are documented as
/// ASCII but have carried Latin-1 accents in the past.
pub(crate) fn utf8_or_latin1_text(file: &ListFile) -> Cow<'_, str> {
    let bytes = trim_markers(&file.bytes);
    match std::str::from_utf8(bytes) {
        Ok(s) => Cow::Borrowed(s),
        Err(_) => {
            let (text, _, _) = encoding_rs::WINDOWS_1252.decode(bytes);
            text
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_of_one_file_is_its_sha256() {
        let files = ListFiles::from_memory("/x", vec![("a.csv", b"abc".to_vec())]);
        assert_eq!(files.content_hash(), "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }

    #[test]
    fn hash_of_a_directory_covers_names_and_order() {
        let a = ListFiles::from_memory("/x", vec![("a", b"1".to_vec()), ("b", b"2".to_vec())]);
        let b = ListFiles::from_memory("/x", vec![("b", b"2".to_vec()), ("a", b"1".to_vec())]);
        let c = ListFiles::from_memory("/x", vec![("a", b"2".to_vec()), ("b", b"1".to_vec())]);
        assert_eq!(a.content_hash(), b.content_hash());
        assert_ne!(a.content_hash(), c.content_hash());
    }

    #[test]
    fn invalid_utf8_names_line_and_offset() {
        let f = ListFile { name: "x.csv".into(), path: "/l/x.csv".into(), bytes: b"ok\nbad \xff here".to_vec() };
        let err = utf8_text(&f).unwrap_err().to_string();
        assert!(err.contains("/l/x.csv") && err.contains("line 2") && err.contains("byte offset 7"), "{err}");
    }

    #[test]
    fn markers_are_trimmed() {
        let f = ListFile { name: "x".into(), path: "x".into(), bytes: b"\xEF\xBB\xBFa,b\r\n\x1a".to_vec() };
        assert_eq!(utf8_text(&f).unwrap(), "a,b\r\n");
        let f = ListFile { name: "x".into(), path: "x".into(), bytes: b"caf\xe9".to_vec() };
        assert_eq!(latin1_text(&f), "café");
        assert_eq!(utf8_or_latin1_text(&f), "café");
    }
}

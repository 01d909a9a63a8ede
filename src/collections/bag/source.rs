//! Text sources: planning a glob into [`TextBlock`]s on the program's side (a stat per file,
//! no data read), and reading one block's lines on the worker that runs it — plain files in
//! byte ranges split on line boundaries, `.gz` and `.zst` files whole, decompressed as they
//! stream. Depends on the filesystem and the decompressors only.

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::error::BagError;

/// The default block size: files larger than this are read by several tasks.
pub const DEFAULT_BLOCK_SIZE: u64 = 64 * 1024 * 1024;

/// How a file is compressed, from its extension.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Compression {
    /// Plain text.
    None,
    /// gzip (`.gz`).
    Gzip,
    /// Zstandard (`.zst`).
    Zstd,
}

impl Compression {
    /// Guesses from the file name.
    pub fn of(path: &Path) -> Self {
        match path.extension().and_then(|e| e.to_str()) {
            Some("gz") => Compression::Gzip,
            Some("zst") => Compression::Zstd,
            _ => Compression::None,
        }
    }
}

/// Options of `read_text`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TextOptions {
    /// Plain files larger than this are split on line boundaries into several partitions
    /// (default [`DEFAULT_BLOCK_SIZE`]). Compressed files are always one partition.
    pub block_size: u64,
    /// Replace invalid UTF-8 with U+FFFD instead of failing (default `false`).
    pub lossy: bool,
}

impl Default for TextOptions {
    fn default() -> Self {
        TextOptions {
            block_size: DEFAULT_BLOCK_SIZE,
            lossy: false,
        }
    }
}

/// One partition of a text source: a byte range of a file (whole for compressed files).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TextBlock {
    /// The file, as an absolute path.
    pub path: String,
    /// Lines starting at or after this byte belong to the block.
    pub start: u64,
    /// Lines starting before this byte belong to the block (`None`: to the end).
    pub end: Option<u64>,
    /// How the file is compressed.
    pub compression: Compression,
    /// Replace invalid UTF-8 rather than fail.
    pub lossy: bool,
}

/// Expands `pattern` and cuts the files into blocks (sorted by path). Only file sizes are
/// read here; the data is read by the workers.
pub fn plan_blocks(pattern: &str, options: &TextOptions) -> Result<Vec<TextBlock>, BagError> {
    let paths = glob::glob(pattern).map_err(|e| BagError::BadPattern {
        pattern: pattern.to_string(),
        message: e.to_string(),
    })?;
    let mut files: Vec<PathBuf> = paths
        .filter_map(Result::ok)
        .filter(|p| !p.is_dir())
        .collect();
    if files.is_empty() {
        return Err(BagError::NoMatch {
            pattern: pattern.to_string(),
        });
    }
    files.sort();
    let mut blocks = Vec::new();
    for path in files {
        let absolute = std::path::absolute(&path).unwrap_or(path);
        blocks.extend(file_blocks(&absolute, options));
    }
    Ok(blocks)
}

fn file_blocks(path: &Path, options: &TextOptions) -> Vec<TextBlock> {
    let compression = Compression::of(path);
    let whole = |start, end| TextBlock {
        path: path.to_string_lossy().into_owned(),
        start,
        end,
        compression,
        lossy: options.lossy,
    };
    // A file we can't stat is still one block: its worker reports the error when it reads.
    let size = std::fs::metadata(path).map_or(0, |m| m.len());
    let block = options.block_size.max(1);
    if compression != Compression::None || size <= block {
        return vec![whole(0, None)];
    }
    // Equal blocks, so a file just past the block size is not a full block and a sliver
    // (placed like any other task, the sliver would leave its worker idle).
    let count = size.div_ceil(block);
    let each = size.div_ceil(count);
    (0..count)
        .map(|i| {
            let end = (i + 1) * each;
            whole(i * each, (end < size).then_some(end))
        })
        .collect()
}

impl TextBlock {
    /// Calls `each` on every line of the block (without its newline), stopping early when it
    /// breaks. A plain block is read with one `read` into one buffer and its lines are
    /// borrowed from it; a compressed file streams line by line.
    pub fn for_each_line(
        &self,
        each: impl FnMut(&str) -> Result<ControlFlow<()>, BagError>,
    ) -> Result<(), BagError> {
        match self.compression {
            Compression::None => self.for_each_plain_line(each),
            _ => self.for_each_streamed_line(each),
        }
    }

    fn for_each_plain_line(
        &self,
        mut each: impl FnMut(&str) -> Result<ControlFlow<()>, BagError>,
    ) -> Result<(), BagError> {
        let (buffer, skip) = self.read_block()?;
        let offset = self.start.saturating_sub(1) + skip as u64;
        let bytes = &buffer[skip..];
        let text = match std::str::from_utf8(bytes) {
            Ok(text) => std::borrow::Cow::Borrowed(text),
            Err(_) if self.lossy => String::from_utf8_lossy(bytes),
            Err(error) => {
                return Err(BagError::InvalidUtf8 {
                    path: self.path.clone(),
                    offset: offset + error.valid_up_to() as u64,
                })
            }
        };
        for line in lines(&text) {
            if each(line)?.is_break() {
                break;
            }
        }
        Ok(())
    }

    /// A buffer holding the block's lines from index `skip` on, and `skip`.
    fn read_block(&self) -> Result<(Vec<u8>, usize), BagError> {
        let io = |source| BagError::Unreadable {
            path: self.path.clone(),
            source,
        };
        let mut file = File::open(&self.path).map_err(io)?;
        // From the byte before `start`: the line that straddles `start` belongs to the
        // previous block, and a newline just before `start` means none does.
        let from = self.start.saturating_sub(1);
        file.seek(SeekFrom::Start(from)).map_err(io)?;
        let mut buffer = Vec::new();
        match self.end {
            Some(end) => {
                (&mut file)
                    .take(end - from)
                    .read_to_end(&mut buffer)
                    .map_err(io)?;
                if buffer.last().is_some_and(|b| *b != b'\n') {
                    BufReader::new(file)
                        .read_until(b'\n', &mut buffer)
                        .map_err(io)?;
                }
            }
            None => {
                file.read_to_end(&mut buffer).map_err(io)?;
            }
        }
        let mut skip = 0;
        if self.start > 0 {
            skip = buffer
                .iter()
                .position(|b| *b == b'\n')
                .map_or(buffer.len(), |i| i + 1);
        }
        Ok((buffer, skip))
    }

    fn for_each_streamed_line(
        &self,
        mut each: impl FnMut(&str) -> Result<ControlFlow<()>, BagError>,
    ) -> Result<(), BagError> {
        let mut reader = self.open()?;
        let mut position = 0;
        let mut line = Vec::with_capacity(256);
        loop {
            line.clear();
            let read = self.read_line(&mut reader, &mut line, position)?;
            if read == 0 {
                break;
            }
            let text = self.decode(&mut line, position)?;
            if each(text)?.is_break() {
                break;
            }
            position += read as u64;
        }
        Ok(())
    }

    fn open(&self) -> Result<Box<dyn BufRead>, BagError> {
        let io = |source| BagError::Unreadable {
            path: self.path.clone(),
            source,
        };
        let file = File::open(&self.path).map_err(io)?;
        const BUFFER: usize = 256 * 1024;
        Ok(match self.compression {
            Compression::None => Box::new(BufReader::with_capacity(BUFFER, file)),
            Compression::Gzip => Box::new(BufReader::with_capacity(
                BUFFER,
                flate2::read::MultiGzDecoder::new(BufReader::new(file)),
            )),
            Compression::Zstd => {
                let decoder = ruzstd::decoding::StreamingDecoder::new(BufReader::new(file))
                    .map_err(|e| BagError::Corrupt {
                        path: self.path.clone(),
                        message: e.to_string(),
                    })?;
                Box::new(BufReader::with_capacity(BUFFER, decoder))
            }
        })
    }

    /// Reads one line with its newline into `line`; returns the bytes consumed.
    fn read_line(
        &self,
        reader: &mut Box<dyn BufRead>,
        line: &mut Vec<u8>,
        position: u64,
    ) -> Result<usize, BagError> {
        reader.read_until(b'\n', line).map_err(|source| {
            if self.compression == Compression::None {
                BagError::Unreadable {
                    path: self.path.clone(),
                    source,
                }
            } else {
                BagError::Corrupt {
                    path: self.path.clone(),
                    message: format!("{source} (after {position} decompressed bytes)"),
                }
            }
        })
    }

    /// The line as text without its line ending.
    fn decode<'l>(&self, line: &'l mut Vec<u8>, position: u64) -> Result<&'l str, BagError> {
        if line.last() == Some(&b'\n') {
            line.pop();
            if line.last() == Some(&b'\r') {
                line.pop();
            }
        }
        match std::str::from_utf8(line) {
            Ok(_) => Ok(std::str::from_utf8(line).expect("checked")),
            Err(error) if self.lossy => {
                let fixed = String::from_utf8_lossy(line).into_owned();
                *line = fixed.into_bytes();
                let _ = error;
                Ok(std::str::from_utf8(line).expect("made valid"))
            }
            Err(error) => Err(BagError::InvalidUtf8 {
                path: self.path.clone(),
                offset: position + error.valid_up_to() as u64,
            }),
        }
    }
}

/// The lines of `text` as [`str::lines`] cuts them (without `\n` or `\r\n`, no empty last
/// line), found with one vectorized scan of the whole text rather than a search per line.
fn lines(text: &str) -> impl Iterator<Item = &str> {
    let mut start = 0;
    let ends = memchr::memchr_iter(b'\n', text.as_bytes()).chain(std::iter::once(text.len()));
    ends.filter_map(move |end| {
        let line = text.get(start..end)?;
        start = end + 1;
        if end == text.len() {
            // No newline ends this line: it has no line ending to strip, and an empty one
            // only means the text ended with a newline.
            return (!line.is_empty()).then_some(line);
        }
        Some(line.strip_suffix('\r').unwrap_or(line))
    })
}

/// Reads a whole block into lines.
#[cfg(test)]
pub fn read_lines(block: &TextBlock) -> Result<Vec<String>, BagError> {
    let mut lines = Vec::new();
    block.for_each_line(|line| {
        lines.push(line.to_string());
        Ok(ControlFlow::Continue(()))
    })?;
    Ok(lines)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, bytes).unwrap();
        path
    }

    #[test]
    fn blocks_split_on_line_boundaries_and_cover_every_line_once() {
        let dir = tempdir("blocks");
        let text: String = (0..500).map(|i| format!("line number {i}\n")).collect();
        write(&dir, "a.txt", text.as_bytes());
        for block_size in [1, 7, 16, 100, 1000, 1 << 20] {
            let options = TextOptions {
                block_size,
                lossy: false,
            };
            let pattern = format!("{}/*.txt", dir.display());
            let blocks = plan_blocks(&pattern, &options).unwrap();
            let lines: Vec<String> = blocks.iter().flat_map(|b| read_lines(b).unwrap()).collect();
            let expected: Vec<&str> = text.lines().collect();
            assert_eq!(lines, expected, "block size {block_size}");
        }
    }

    #[test]
    fn a_file_past_the_block_size_is_cut_into_equal_blocks() {
        let dir = tempdir("equal");
        let path = write(&dir, "a.txt", &[b'x'; 1001]);
        let options = TextOptions {
            block_size: 1000,
            lossy: false,
        };
        let spans: Vec<(u64, Option<u64>)> = file_blocks(&path, &options)
            .iter()
            .map(|b| (b.start, b.end))
            .collect();
        assert_eq!(spans, [(0, Some(501)), (501, None)]);
    }

    #[test]
    fn lines_are_cut_as_std_cuts_them() {
        for text in [
            "",
            "a",
            "a\n",
            "a\r\nb",
            "\n\n",
            "a\n\nb\r\n",
            "\r\n",
            "x\ry\n",
            "a\r",
            "a\nb\r",
        ] {
            let ours: Vec<&str> = lines(text).collect();
            let std: Vec<&str> = text.lines().collect();
            assert_eq!(ours, std, "{text:?}");
        }
    }

    #[test]
    fn gzip_and_bad_utf8_and_missing_files() {
        let dir = tempdir("gz");
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        encoder.write_all(b"x y\r\nz\n").unwrap();
        let gz = write(&dir, "a.txt.gz", &encoder.finish().unwrap());
        let block = |path: &Path| file_blocks(path, &TextOptions::default()).remove(0);
        assert_eq!(read_lines(&block(&gz)).unwrap(), ["x y", "z"]);
        let bad = write(&dir, "bad.txt", b"ok\nab\xffcd\n");
        let err = read_lines(&block(&bad)).unwrap_err();
        assert!(
            matches!(err, BagError::InvalidUtf8 { offset: 5, .. }),
            "{err}"
        );
        let mut lossy = block(&bad);
        lossy.lossy = true;
        assert_eq!(read_lines(&lossy).unwrap(), ["ok", "ab\u{fffd}cd"]);
        let corrupt = write(&dir, "c.gz", b"\x1f\x8b\x08\x00garbage");
        let err = read_lines(&block(&corrupt)).unwrap_err();
        assert!(matches!(err, BagError::Corrupt { .. }) && err.to_string().contains("c.gz"));
        let missing = dir.join("missing.txt");
        let err = read_lines(&block(&missing)).unwrap_err();
        assert!(err.to_string().contains("missing.txt"), "{err}");
        let err = plan_blocks(
            &format!("{}/*.nothing", dir.display()),
            &TextOptions::default(),
        );
        assert!(matches!(err, Err(BagError::NoMatch { .. })));
    }

    fn tempdir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("tf-bag-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }
}

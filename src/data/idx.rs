//! The IDX file format of MNIST, plain or gzip-compressed.
//!
//! An IDX file is a big-endian `u32` magic number `0x0000TTDD` — `TT` the element type
//! (only `0x08`, unsigned byte, is supported: it is what MNIST uses), `DD` the number of
//! dimensions — followed by `DD` big-endian `u32` sizes and then the elements, row-major,
//! with nothing after them. MNIST images are `0x00000803` (2051: bytes, 3 dimensions
//! count × rows × cols) and labels `0x00000801` (2049: bytes, 1 dimension count).
//!
//! A file is gzip-compressed when it starts with the gzip magic `1f 8b`, whatever its
//! name. Reads are bounded: at most the bytes the header promises plus one (to detect
//! trailing data) are ever read or decompressed, and headers promising more than
//! [`MAX_DATA_BYTES`] are refused before anything is allocated, so a huge or endless input
//! fails fast.

use std::fmt;
use std::fs::File;
use std::io::{self, Cursor, Read, Write};
use std::path::{Path, PathBuf};

use flate2::read::MultiGzDecoder;
use thiserror::Error;

/// The element type byte of unsigned-byte IDX data (the only type MNIST uses).
pub const TYPE_U8: u8 = 0x08;
/// The magic number of an IDX file of 3-dimensional unsigned bytes: MNIST images (2051).
pub const MAGIC_IMAGES: u32 = 0x0000_0803;
/// The magic number of an IDX file of 1-dimensional unsigned bytes: MNIST labels (2049).
pub const MAGIC_LABELS: u32 = 0x0000_0801;
/// The largest data section accepted, in bytes (2³¹ = 2 GiB; the full MNIST training
/// images are 47 MB). Larger headers are refused before allocating.
pub const MAX_DATA_BYTES: u64 = 1 << 31;
/// The two bytes every gzip stream starts with.
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];
/// Where the full MNIST files are published, for error messages.
const MNIST_SOURCE: &str = "http://yann.lecun.com/exdb/mnist/ (or one of its mirrors)";

/// Everything that can go wrong reading IDX files. Each variant names the file concerned.
#[derive(Debug, Error)]
pub enum DataError {
    /// The file could not be opened or read.
    #[error("{}: cannot read the file: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        source: io::Error,
    },
    /// None of the accepted names of a data set file exists in the directory.
    #[error(
        "{}: no {names} there; download the MNIST files from {MNIST_SOURCE} into this \
         directory (they may stay gzip-compressed)",
        dir.display()
    )]
    Missing {
        /// The directory searched.
        dir: PathBuf,
        /// The accepted file names, for the message.
        names: String,
    },
    /// The file starts like gzip but its stream is corrupt or ends early.
    #[error(
        "{}: the gzip stream is corrupt or truncated ({source}); download the file again",
        path.display()
    )]
    Gzip {
        /// The file.
        path: PathBuf,
        /// The decompressor's error.
        source: io::Error,
    },
    /// The file ends inside the IDX header.
    #[error(
        "{}: the file ends inside the IDX header after {found} of {expected} bytes; it is \
         truncated or not an IDX file",
        path.display()
    )]
    HeaderTruncated {
        /// The file.
        path: PathBuf,
        /// Header bytes needed (4 for the magic, then 4 per dimension).
        expected: usize,
        /// Header bytes present.
        found: usize,
    },
    /// The magic number is not an IDX magic at all: its first two bytes are not zero or
    /// its type byte is no IDX element type.
    #[error(
        "{}: magic number 0x{found:08x} ({found}) found, 0x{expected:08x} ({expected}) \
         expected; this is not an IDX file of the expected kind (is it the right file, \
         and not an HTML error page or another format?)",
        path.display()
    )]
    BadMagic {
        /// The file.
        path: PathBuf,
        /// The magic number read.
        found: u32,
        /// The magic number expected.
        expected: u32,
    },
    /// The element type byte is a valid IDX type other than unsigned byte.
    #[error(
        "{}: IDX element type 0x{found:02x} ({}) is not supported; only 0x08 (unsigned \
         byte, as in MNIST) is read",
        path.display(),
        type_name(*found)
    )]
    UnsupportedType {
        /// The file.
        path: PathBuf,
        /// The type byte read (third byte of the magic).
        found: u8,
    },
    /// The number of dimensions differs from the one expected (e.g. a label file where
    /// an image file was asked for).
    #[error(
        "{}: the IDX header has {found} dimension(s) (magic 0x{magic:08x}), {expected} \
         expected; images have 3 (count, rows, cols) and labels 1 — are the image and \
         label files swapped?",
        path.display()
    )]
    Dimensions {
        /// The file.
        path: PathBuf,
        /// The magic number read.
        magic: u32,
        /// Dimensions in the header.
        found: u8,
        /// Dimensions expected.
        expected: u8,
    },
    /// The sizes multiply to more than [`MAX_DATA_BYTES`] (or overflow 64 bits).
    #[error(
        "{}: the IDX sizes {} promise {} bytes of data, more than the limit of {} bytes; \
         the header is corrupt",
        path.display(),
        Sizes(sizes),
        product.map_or_else(|| "more than 2^64".to_string(), |p| p.to_string()),
        MAX_DATA_BYTES
    )]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// The sizes in the header.
        sizes: Vec<u32>,
        /// Their product, `None` when it overflows 64 bits.
        product: Option<u64>,
    },
    /// The data section is shorter than the header promises.
    #[error(
        "{}: truncated: the IDX header (sizes {}) promises {expected} bytes of data but \
         only {found} are present; download the file again",
        path.display(),
        Sizes(sizes)
    )]
    Truncated {
        /// The file.
        path: PathBuf,
        /// The sizes in the header.
        sizes: Vec<u32>,
        /// Data bytes promised.
        expected: u64,
        /// Data bytes present.
        found: u64,
    },
    /// There are bytes after the data the header promises.
    #[error(
        "{}: trailing bytes after the {expected} bytes of data the IDX header (sizes {}) \
         promises; the header or the file is corrupt",
        path.display(),
        Sizes(sizes)
    )]
    TrailingBytes {
        /// The file.
        path: PathBuf,
        /// The sizes in the header.
        sizes: Vec<u32>,
        /// Data bytes promised.
        expected: u64,
    },
    /// The image and label files of a split hold different numbers of items.
    #[error(
        "{} holds {images} images but {} holds {labels} labels; the two files must come \
         from the same split of the same distribution",
        images_path.display(),
        labels_path.display()
    )]
    CountMismatch {
        /// The image file.
        images_path: PathBuf,
        /// Images in it.
        images: usize,
        /// The label file.
        labels_path: PathBuf,
        /// Labels in it.
        labels: usize,
    },
}

/// The name of an IDX element type byte, for messages.
fn type_name(t: u8) -> &'static str {
    match t {
        0x08 => "unsigned byte",
        0x09 => "signed byte",
        0x0B => "16-bit integer",
        0x0C => "32-bit integer",
        0x0D => "32-bit float",
        0x0E => "64-bit float",
        _ => "unknown",
    }
}

/// Displays sizes as `a×b×c`.
struct Sizes<'a>(&'a [u32]);

impl fmt::Display for Sizes<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, s) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("×")?;
            }
            write!(f, "{s}")?;
        }
        Ok(())
    }
}

/// The contents of an unsigned-byte IDX file: its sizes and its elements, row-major.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdxArray {
    /// The size of each dimension, outermost first (for MNIST images: count, rows, cols).
    pub sizes: Vec<u32>,
    /// The elements, row-major; `data.len()` is the product of `sizes`.
    pub data: Vec<u8>,
}

/// Reads an unsigned-byte IDX file with `dims` dimensions from `path`, plain or gzip.
pub fn read_idx(path: &Path, dims: u8) -> Result<IdxArray, DataError> {
    let file = File::open(path).map_err(|source| DataError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    parse_idx(file, path, dims)
}

/// Reads an unsigned-byte IDX stream with `dims` dimensions from `reader`, plain or gzip
/// (detected by the gzip magic). `path` only names the source in errors. Reads at most
/// the header, the data it promises and one more byte.
pub fn parse_idx<R: Read>(mut reader: R, path: &Path, dims: u8) -> Result<IdxArray, DataError> {
    let io_err = |source| DataError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut prefix = [0u8; 2];
    let n = read_full(&mut reader, &mut prefix).map_err(io_err)?;
    let rest = Cursor::new(prefix[..n].to_vec()).chain(reader);
    if n == 2 && prefix == GZIP_MAGIC {
        parse_plain(MultiGzDecoder::new(rest), path, dims, true)
    } else {
        parse_plain(rest, path, dims, false)
    }
}

/// Reads into `buf` until it is full or the stream ends; returns the bytes read.
fn read_full<R: Read>(reader: &mut R, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match reader.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// Parses an uncompressed IDX stream; `gzip` says whether read errors come from the
/// decompressor.
fn parse_plain<R: Read>(
    mut reader: R,
    path: &Path,
    dims: u8,
    gzip: bool,
) -> Result<IdxArray, DataError> {
    let path_buf = || path.to_path_buf();
    let read_err = |source| {
        if gzip {
            DataError::Gzip {
                path: path_buf(),
                source,
            }
        } else {
            DataError::Io {
                path: path_buf(),
                source,
            }
        }
    };

    let mut magic = [0u8; 4];
    let n = read_full(&mut reader, &mut magic).map_err(read_err)?;
    if n < 4 {
        return Err(DataError::HeaderTruncated {
            path: path_buf(),
            expected: 4 + 4 * dims as usize,
            found: n,
        });
    }
    let found = u32::from_be_bytes(magic);
    let expected = (TYPE_U8 as u32) << 8 | dims as u32;
    let known_type = matches!(magic[2], 0x08 | 0x09 | 0x0B | 0x0C | 0x0D | 0x0E);
    if magic[0] != 0 || magic[1] != 0 || !known_type {
        return Err(DataError::BadMagic {
            path: path_buf(),
            found,
            expected,
        });
    }
    if magic[2] != TYPE_U8 {
        return Err(DataError::UnsupportedType {
            path: path_buf(),
            found: magic[2],
        });
    }
    if magic[3] != dims {
        return Err(DataError::Dimensions {
            path: path_buf(),
            magic: found,
            found: magic[3],
            expected: dims,
        });
    }

    let mut header = vec![0u8; 4 * dims as usize];
    let n = read_full(&mut reader, &mut header).map_err(read_err)?;
    if n < header.len() {
        return Err(DataError::HeaderTruncated {
            path: path_buf(),
            expected: 4 + header.len(),
            found: 4 + n,
        });
    }
    let sizes: Vec<u32> = header
        .chunks_exact(4)
        .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    let product = sizes
        .iter()
        .try_fold(1u64, |acc, &s| acc.checked_mul(s as u64));
    let len = match product {
        Some(p) if p <= MAX_DATA_BYTES => p,
        _ => {
            return Err(DataError::TooLarge {
                path: path_buf(),
                sizes,
                product,
            })
        }
    };

    // At most 64 MiB reserved up front: a lying header cannot make us allocate more
    // than the data actually present (plus this cap).
    let mut data = Vec::with_capacity(len.min(1 << 26) as usize);
    (&mut reader)
        .take(len + 1)
        .read_to_end(&mut data)
        .map_err(read_err)?;
    let got = data.len() as u64;
    if got < len {
        return Err(DataError::Truncated {
            path: path_buf(),
            sizes,
            expected: len,
            found: got,
        });
    }
    if got > len {
        return Err(DataError::TrailingBytes {
            path: path_buf(),
            sizes,
            expected: len,
        });
    }
    Ok(IdxArray { sizes, data })
}

/// Writes an unsigned-byte IDX stream (uncompressed): the magic for `sizes.len()`
/// dimensions, the sizes, then `data`. Fails with `InvalidInput` when `data.len()` is not
/// the product of `sizes` or there are more than 255 dimensions.
pub fn write_idx<W: Write>(mut w: W, sizes: &[u32], data: &[u8]) -> io::Result<()> {
    let dims = u8::try_from(sizes.len())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "more than 255 dimensions"))?;
    let product = sizes
        .iter()
        .try_fold(1u64, |acc, &s| acc.checked_mul(s as u64));
    if product != Some(data.len() as u64) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "data length is not the product of the sizes",
        ));
    }
    w.write_all(&[0, 0, TYPE_U8, dims])?;
    for s in sizes {
        w.write_all(&s.to_be_bytes())?;
    }
    w.write_all(data)
}

/// A set of grey-level images, all `rows × cols`, stored contiguously.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Images {
    /// Number of images.
    pub count: usize,
    /// Pixel rows per image (28 for MNIST).
    pub rows: usize,
    /// Pixel columns per image (28 for MNIST).
    pub cols: usize,
    /// Grey levels 0 (background) to 255 (ink), image after image, each row-major;
    /// `count × rows × cols` bytes.
    pub pixels: Vec<u8>,
}

impl Images {
    /// Reads an IDX image file (magic 2051), plain or gzip.
    pub fn read(path: &Path) -> Result<Images, DataError> {
        Self::from_array(read_idx(path, 3)?)
    }

    /// Reads an IDX image stream (magic 2051), plain or gzip; `path` names it in errors.
    pub fn parse<R: Read>(reader: R, path: &Path) -> Result<Images, DataError> {
        Self::from_array(parse_idx(reader, path, 3)?)
    }

    fn from_array(a: IdxArray) -> Result<Images, DataError> {
        // Three sizes whose product is at most MAX_DATA_BYTES: each fits in usize.
        let [count, rows, cols] = [a.sizes[0], a.sizes[1], a.sizes[2]].map(|s| s as usize);
        Ok(Images {
            count,
            rows,
            cols,
            pixels: a.data,
        })
    }

    /// Pixels per image (`rows × cols`), i.e. input lines of a network fed one pixel a line.
    pub fn pixels_per_image(&self) -> usize {
        self.rows * self.cols
    }

    /// The pixels of image `i`, row-major (`rows × cols` grey levels).
    ///
    /// # Panics
    /// If `i >= count` (see [`Images::get`] for the checked form).
    pub fn image(&self, i: usize) -> &[u8] {
        self.get(i)
            .unwrap_or_else(|| panic!("image {i} of {} requested", self.count))
    }

    /// The pixels of image `i`, or `None` if `i >= count`.
    pub fn get(&self, i: usize) -> Option<&[u8]> {
        if i >= self.count {
            return None;
        }
        let n = self.pixels_per_image();
        self.pixels.get(i * n..(i + 1) * n)
    }

    /// The images in order.
    pub fn iter(&self) -> impl Iterator<Item = &[u8]> + '_ {
        (0..self.count).filter_map(|i| self.get(i))
    }
}

/// The class of each image (0–9 for MNIST; any byte: the class count is the largest
/// label + 1), in file order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Labels(pub Vec<u8>);

impl Labels {
    /// Reads an IDX label file (magic 2049), plain or gzip (any byte is a class).
    pub fn read(path: &Path) -> Result<Labels, DataError> {
        Ok(Self::from_array(read_idx(path, 1)?))
    }

    /// Reads an IDX label stream (magic 2049), plain or gzip; `path` names it in errors.
    pub fn parse<R: Read>(reader: R, path: &Path) -> Result<Labels, DataError> {
        Ok(Self::from_array(parse_idx(reader, path, 1)?))
    }

    fn from_array(a: IdxArray) -> Labels {
        Labels(a.data)
    }

    /// Number of labels.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are no labels.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Number of classes: the largest label + 1 (0 without labels).
    pub fn classes(&self) -> usize {
        self.0.iter().max().map_or(0, |&m| m as usize + 1)
    }

    /// How many labels of each class `0..classes()`.
    pub fn class_counts(&self) -> Vec<usize> {
        let mut c = vec![0; self.classes()];
        for &l in &self.0 {
            c[l as usize] += 1;
        }
        c
    }
}

/// Which half of a data set.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Split {
    /// The training items (`train-*` files).
    Train,
    /// The held-out test items (`t10k-*` files, also accepted as `test-*`).
    Test,
}

impl Split {
    /// File-name prefixes accepted for this split, in order of preference.
    pub fn prefixes(self) -> &'static [&'static str] {
        match self {
            Split::Train => &["train"],
            Split::Test => &["t10k", "test"],
        }
    }
}

impl fmt::Display for Split {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Split::Train => "train",
            Split::Test => "test",
        })
    }
}

/// Images and their labels, one label per image.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dataset {
    /// The images.
    pub images: Images,
    /// The label of each image, same order.
    pub labels: Labels,
}

impl Dataset {
    /// Loads one split of MNIST from `dir`: `train-images-idx3-ubyte` and
    /// `train-labels-idx1-ubyte` for [`Split::Train`], `t10k-…` (or `test-…`) for
    /// [`Split::Test`], each with or without `.gz` (compression is detected from the
    /// contents). Checks that there is one label per image.
    pub fn load(dir: impl AsRef<Path>, split: Split) -> Result<Dataset, DataError> {
        let dir = dir.as_ref();
        let images_path = find(dir, split, "images-idx3-ubyte")?;
        let labels_path = find(dir, split, "labels-idx1-ubyte")?;
        let images = Images::read(&images_path)?;
        let labels = Labels::read(&labels_path)?;
        if images.count != labels.len() {
            return Err(DataError::CountMismatch {
                images_path,
                images: images.count,
                labels_path,
                labels: labels.len(),
            });
        }
        Ok(Dataset { images, labels })
    }

    /// Number of items.
    pub fn len(&self) -> usize {
        self.images.count
    }

    /// Whether there are no items.
    pub fn is_empty(&self) -> bool {
        self.images.count == 0
    }

    /// Image `i` and its label, or `None` if `i >= len()`.
    pub fn get(&self, i: usize) -> Option<(&[u8], u8)> {
        Some((self.images.get(i)?, *self.labels.0.get(i)?))
    }
}

/// The first existing file `<prefix>-<stem>` or `<prefix>-<stem>.gz` in `dir`.
fn find(dir: &Path, split: Split, stem: &str) -> Result<PathBuf, DataError> {
    let mut names = Vec::new();
    for prefix in split.prefixes() {
        let name = format!("{prefix}-{stem}");
        for candidate in [name.clone(), format!("{name}.gz")] {
            let p = dir.join(&candidate);
            if p.is_file() {
                return Ok(p);
            }
        }
        names.push(format!("{name}[.gz]"));
    }
    Err(DataError::Missing {
        dir: dir.to_path_buf(),
        names: names.join(" or "),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::write::GzEncoder;
    use flate2::Compression;

    fn p() -> &'static Path {
        Path::new("x.idx")
    }

    fn idx(sizes: &[u32], data: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        write_idx(&mut v, sizes, data).unwrap();
        v
    }

    fn gz(bytes: &[u8]) -> Vec<u8> {
        let mut e = GzEncoder::new(Vec::new(), Compression::default());
        e.write_all(bytes).unwrap();
        e.finish().unwrap()
    }

    fn tiny_images() -> (Vec<u8>, Images) {
        let pixels: Vec<u8> = (0..2 * 3 * 4).map(|i| (i * 11) as u8).collect();
        let file = idx(&[2, 3, 4], &pixels);
        let im = Images {
            count: 2,
            rows: 3,
            cols: 4,
            pixels,
        };
        (file, im)
    }

    #[test]
    fn data_tiny_images_round_trip_plain_and_gzip() {
        let (file, want) = tiny_images();
        assert_eq!(&file[..4], &[0, 0, 8, 3]);
        let plain = Images::parse(&file[..], p()).unwrap();
        assert_eq!(plain, want);
        assert_eq!(plain.image(1), &want.pixels[12..24]);
        assert_eq!(plain.get(2), None);
        assert_eq!(plain.iter().count(), 2);
        let zipped = Images::parse(&gz(&file)[..], p()).unwrap();
        assert_eq!(zipped, want);
    }

    #[test]
    fn data_tiny_labels_round_trip_plain_and_gzip() {
        let file = idx(&[5], &[3, 1, 4, 1, 5]);
        assert_eq!(&file[..8], &[0, 0, 8, 1, 0, 0, 0, 5]);
        for bytes in [file.clone(), gz(&file)] {
            let l = Labels::parse(&bytes[..], p()).unwrap();
            assert_eq!(l, Labels(vec![3, 1, 4, 1, 5]));
            assert_eq!(l.class_counts()[1], 2);
        }
    }

    #[test]
    fn data_empty_set_is_valid() {
        let im = Images::parse(&idx(&[0, 28, 28], &[])[..], p()).unwrap();
        assert_eq!((im.count, im.iter().count()), (0, 0));
    }

    #[test]
    fn data_wrong_magic_says_found_and_expected() {
        let mut file = tiny_images().0;
        file[0] = 0x3c; // '<' of an HTML page
        let e = Images::parse(&file[..], p()).unwrap_err();
        assert!(
            matches!(
                e,
                DataError::BadMagic {
                    found: 0x3c00_0803,
                    expected: 0x803,
                    ..
                }
            ),
            "{e:?}"
        );
        let msg = e.to_string();
        assert!(msg.contains("x.idx") && msg.contains("0x00000803"), "{msg}");
    }

    #[test]
    fn data_unsupported_type_is_named() {
        let mut file = tiny_images().0;
        file[2] = 0x0d;
        let e = Images::parse(&file[..], p()).unwrap_err();
        assert!(matches!(e, DataError::UnsupportedType { found: 0x0d, .. }));
        assert!(e.to_string().contains("32-bit float"), "{e}");
    }

    #[test]
    fn data_labels_read_as_images_is_a_dimension_mismatch() {
        let file = idx(&[5], &[0; 5]);
        let e = Images::parse(&file[..], p()).unwrap_err();
        assert!(
            matches!(
                e,
                DataError::Dimensions {
                    found: 1,
                    expected: 3,
                    ..
                }
            ),
            "{e:?}"
        );
        let e = Labels::parse(&tiny_images().0[..], p()).unwrap_err();
        assert!(matches!(
            e,
            DataError::Dimensions {
                found: 3,
                expected: 1,
                ..
            }
        ));
    }

    #[test]
    fn data_oversized_headers_are_refused_before_reading() {
        // 2^40 bytes promised (2^20 × 2^10 × 2^10), no data behind it.
        let mut h = vec![0, 0, 8, 3];
        for s in [1u32 << 20, 1 << 10, 1 << 10] {
            h.extend_from_slice(&s.to_be_bytes());
        }
        let e = Images::parse(&h[..], p()).unwrap_err();
        assert!(
            matches!(e, DataError::TooLarge { product: Some(p), .. } if p == 1 << 40),
            "{e:?}"
        );
        // Overflowing 64 bits.
        let mut h = vec![0, 0, 8, 3];
        for _ in 0..3 {
            h.extend_from_slice(&u32::MAX.to_be_bytes());
        }
        let e = Images::parse(&h[..], p()).unwrap_err();
        assert!(
            matches!(e, DataError::TooLarge { product: None, .. }),
            "{e:?}"
        );
        assert!(e.to_string().contains("2^64"));
        // Just over the limit.
        let mut h = vec![0, 0, 8, 1];
        h.extend_from_slice(&((1u64 << 31) as u32 + 1).to_be_bytes());
        assert!(matches!(
            Labels::parse(&h[..], p()),
            Err(DataError::TooLarge { .. })
        ));
    }

    #[test]
    fn data_truncated_data_says_how_many_bytes() {
        let file = tiny_images().0;
        let cut = &file[..file.len() - 5];
        let e = Images::parse(cut, p()).unwrap_err();
        assert!(
            matches!(
                e,
                DataError::Truncated {
                    expected: 24,
                    found: 19,
                    ..
                }
            ),
            "{e:?}"
        );
        assert!(e.to_string().contains("promises 24 bytes") && e.to_string().contains("19"));
        // Cut inside the header, and an empty file.
        let e = Images::parse(&file[..10], p()).unwrap_err();
        assert!(matches!(
            e,
            DataError::HeaderTruncated {
                expected: 16,
                found: 10,
                ..
            }
        ));
        let e = Images::parse(&[][..], p()).unwrap_err();
        assert!(matches!(e, DataError::HeaderTruncated { found: 0, .. }));
        // One byte only (shorter than the gzip magic).
        assert!(Images::parse(&[0x1f][..], p()).is_err());
    }

    #[test]
    fn data_trailing_bytes_are_refused() {
        let mut file = tiny_images().0;
        file.push(0);
        let e = Images::parse(&file[..], p()).unwrap_err();
        assert!(
            matches!(e, DataError::TrailingBytes { expected: 24, .. }),
            "{e:?}"
        );
        assert!(matches!(
            Images::parse(&gz(&file)[..], p()),
            Err(DataError::TrailingBytes { .. })
        ));
    }

    #[test]
    fn data_truncated_or_corrupt_gzip_is_an_error() {
        let z = gz(&tiny_images().0);
        for cut in [2, 5, 10, z.len() / 2, z.len() - 4, z.len() - 1] {
            let e = Images::parse(&z[..cut], p()).unwrap_err();
            assert!(
                matches!(
                    e,
                    DataError::Gzip { .. }
                        | DataError::HeaderTruncated { .. }
                        | DataError::Truncated { .. }
                ),
                "cut {cut}: {e:?}"
            );
        }
        // Trailer (CRC) corrupted.
        let mut bad = z.clone();
        let n = bad.len();
        bad[n - 6] ^= 0xff;
        assert!(matches!(
            Images::parse(&bad[..], p()),
            Err(DataError::Gzip { .. })
        ));
    }

    #[test]
    fn data_labels_of_any_class_count_are_read() {
        let l = Labels::parse(&idx(&[3], &[1, 12, 2])[..], p()).unwrap();
        assert_eq!(l.classes(), 13);
        assert_eq!(l.class_counts()[12], 1);
    }

    #[test]
    fn data_endless_input_fails_fast() {
        // An endless stream of zero bytes, like /dev/zero: magic 0 is wrong.
        let e = Images::parse(io::repeat(0), p()).unwrap_err();
        assert!(matches!(e, DataError::BadMagic { found: 0, .. }));
        // A valid header followed by endless data: reads stop one byte past the data.
        let head = idx(&[2, 3, 4], &[0; 24]);
        let endless = (&head[..16]).chain(io::repeat(7));
        let e = Images::parse(endless, p()).unwrap_err();
        assert!(matches!(e, DataError::TrailingBytes { .. }));
    }

    #[test]
    fn data_dev_zero_fails_fast() {
        let zero = Path::new("/dev/zero");
        if zero.exists() {
            assert!(matches!(
                Images::read(zero),
                Err(DataError::BadMagic { .. })
            ));
        }
    }

    #[test]
    fn data_arbitrary_bytes_never_panic() {
        use devices::variability::KeyedStream;
        let (file, _) = tiny_images();
        let z = gz(&file);
        for k in 0..2000u64 {
            let mut s = KeyedStream::new(k);
            let mut bytes = if k % 2 == 0 { file.clone() } else { z.clone() };
            let flips = 1 + s.next_u64() % 3;
            for _ in 0..flips {
                let i = (s.next_u64() % bytes.len() as u64) as usize;
                bytes[i] = s.next_u64() as u8;
            }
            let cut = (s.next_u64() % (bytes.len() as u64 + 1)) as usize;
            let _ = Images::parse(&bytes[..cut], p());
            let _ = Labels::parse(&bytes[..cut], p());
        }
    }

    #[test]
    fn data_write_idx_checks_lengths() {
        assert!(write_idx(Vec::new(), &[2, 2], &[0; 3]).is_err());
        assert!(write_idx(Vec::new(), &[0; 256], &[]).is_err());
    }
}

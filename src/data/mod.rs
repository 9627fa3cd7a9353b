//! Input data for image experiments: an IDX reader for the MNIST files ([`idx`]) and the
//! coding of grey pixels into input-line pulses ([`coding`]).
//!
//! The four MNIST files (`train-images-idx3-ubyte`, `train-labels-idx1-ubyte`,
//! `t10k-images-idx3-ubyte`, `t10k-labels-idx1-ubyte`, each optionally gzip-compressed) are
//! read by [`Dataset::load`]; every malformed or truncated file gives a [`DataError`] that
//! names the file, never a panic.
//!
//! ```
//! use memsnn::data::{coding, Dataset, Split};
//! let train = Dataset::load("tests/data/mnist-small", Split::Train)?;
//! assert_eq!((train.len(), train.images.rows, train.images.cols), (300, 28, 28));
//! let lines = coding::binary(train.images.image(0), coding::DEFAULT_THRESHOLD);
//! assert_eq!(lines.len(), 784);
//! # Ok::<(), memsnn::data::DataError>(())
//! ```

pub mod coding;
pub mod idx;

pub use coding::Coding;
pub use idx::{DataError, Dataset, IdxArray, Images, Labels, Split};

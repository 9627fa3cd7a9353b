//! The MNIST data layer against the small real fixture in `tests/data/mnist-small/` and
//! against hand-made IDX files on disk.

mod common;
use common::{fixture, gz, idx};
use std::path::PathBuf;

use memsnn::data::{coding, DataError, Dataset, Images, Labels, Split};

fn scratch(name: &str) -> PathBuf {
    common::scratch("data-tests", name)
}

#[test]
fn fixture_train_split_loads() {
    let train = Dataset::load(fixture(), Split::Train).unwrap();
    assert_eq!(train.len(), 300);
    assert_eq!((train.images.rows, train.images.cols), (28, 28));
    assert_eq!(train.images.pixels.len(), 300 * 784);
    assert_eq!(train.labels.classes(), 10);
    let counts = train.labels.class_counts();
    assert!(
        counts.iter().all(|&c| c > 0),
        "every class present: {counts:?}"
    );
    assert_eq!(counts.iter().sum::<usize>(), 300);
}

#[test]
fn fixture_test_split_loads() {
    let test = Dataset::load(fixture(), Split::Test).unwrap();
    assert_eq!(test.len(), 100);
    assert_eq!((test.images.rows, test.images.cols), (28, 28));
    assert!(test.labels.0.iter().all(|&l| l <= 9));
}

#[test]
fn fixture_first_image_codes_as_expected() {
    let train = Dataset::load(fixture(), Split::Train).unwrap();
    let (image, label) = train.get(0).unwrap();
    assert_eq!(label, 9);
    let row14 = &image[14 * 28..15 * 28];
    let want: [u8; 28] = [
        0, 0, 0, 0, 0, 0, 0, 0, 22, 136, 208, 208, 174, 56, 0, 86, 252, 239, 34, 0, 0, 0, 0, 0, 0,
        0, 0, 0,
    ];
    assert_eq!(row14, want);
    let on: Vec<usize> = coding::binary(row14, coding::DEFAULT_THRESHOLD)
        .iter()
        .enumerate()
        .filter_map(|(i, &b)| b.then_some(i))
        .collect();
    assert_eq!(on, [9, 10, 11, 12, 16, 17]);
    // Ink is a minority of the pixels.
    let f = coding::fraction_on(&coding::binary(image, coding::DEFAULT_THRESHOLD));
    assert!(f > 0.05 && f < 0.4, "{f}");
}

#[test]
fn hand_made_files_round_trip_plain_and_gzip_and_test_prefix() {
    let pixels: Vec<u8> = (0..3 * 2 * 2).map(|i| i as u8 * 20).collect();
    let images = idx(&[3, 2, 2], &pixels);
    let labels = idx(&[3], &[7, 0, 9]);
    let plain = scratch("plain");
    std::fs::write(plain.join("train-images-idx3-ubyte"), &images).unwrap();
    std::fs::write(plain.join("train-labels-idx1-ubyte"), &labels).unwrap();
    // The test split under its alternative name, gzip-compressed.
    std::fs::write(plain.join("test-images-idx3-ubyte.gz"), gz(&images)).unwrap();
    std::fs::write(plain.join("test-labels-idx1-ubyte.gz"), gz(&labels)).unwrap();
    for split in [Split::Train, Split::Test] {
        let d = Dataset::load(&plain, split).unwrap();
        assert_eq!(d.images.count, 3);
        assert_eq!(d.images.image(2), &pixels[8..12]);
        assert_eq!(d.labels, Labels(vec![7, 0, 9]));
    }
    // Compression is detected from the contents, not the name.
    let odd = plain.join("gzip-without-suffix");
    std::fs::write(&odd, gz(&images)).unwrap();
    assert_eq!(Images::read(&odd).unwrap().pixels, pixels);
}

#[test]
fn missing_files_and_count_mismatch_are_explained() {
    let empty = scratch("empty");
    let e = Dataset::load(&empty, Split::Test).unwrap_err();
    let msg = e.to_string();
    assert!(matches!(e, DataError::Missing { .. }));
    assert!(
        msg.contains("t10k-images-idx3-ubyte[.gz] or test-images-idx3-ubyte[.gz]")
            && msg.contains("yann.lecun.com"),
        "{msg}"
    );
    let d = scratch("mismatch");
    std::fs::write(d.join("train-images-idx3-ubyte"), idx(&[2, 1, 1], &[0, 1])).unwrap();
    std::fs::write(d.join("train-labels-idx1-ubyte"), idx(&[3], &[0, 1, 2])).unwrap();
    let e = Dataset::load(&d, Split::Train).unwrap_err();
    assert!(
        matches!(
            e,
            DataError::CountMismatch {
                images: 2,
                labels: 3,
                ..
            }
        ),
        "{e:?}"
    );
    assert!(e.to_string().contains("train-labels-idx1-ubyte"));
}

#[test]
fn bad_files_on_disk_name_the_file() {
    let d = scratch("bad");
    // Images and labels swapped.
    std::fs::write(d.join("train-images-idx3-ubyte"), idx(&[1], &[0])).unwrap();
    std::fs::write(d.join("train-labels-idx1-ubyte"), idx(&[1, 1, 1], &[0])).unwrap();
    let e = Dataset::load(&d, Split::Train).unwrap_err();
    assert!(matches!(
        e,
        DataError::Dimensions {
            found: 1,
            expected: 3,
            ..
        }
    ));
    assert!(e.to_string().contains("train-images-idx3-ubyte"), "{e}");
    // A truncated gzip file.
    let z = gz(&idx(&[4, 28, 28], &[9; 4 * 784]));
    let cut = d.join("cut.gz");
    std::fs::write(&cut, &z[..z.len() / 2]).unwrap();
    let e = Images::read(&cut).unwrap_err();
    assert!(
        matches!(e, DataError::Gzip { .. } | DataError::Truncated { .. }),
        "{e:?}"
    );
    assert!(e.to_string().contains("cut.gz"));
    // A file that does not exist.
    assert!(matches!(
        Images::read(&d.join("nope")),
        Err(DataError::Io { .. })
    ));
}

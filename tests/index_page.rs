//! `memsnn reproduce GROUP` writes `OUT/index.html`: every link on the page resolves to a
//! file of the output folder, every figure and data file of each experiment is on it, and
//! the table has one row per row the terminal table printed.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The values of every `attr="..."` in `html`.
fn attributes(html: &str, attr: &str) -> Vec<String> {
    let key = format!("{attr}=\"");
    html.match_indices(&key)
        .map(|(i, _)| {
            let rest = &html[i + key.len()..];
            rest[..rest.find('"').expect("closed attribute")].to_string()
        })
        .collect()
}

/// `%XX` sequences decoded (the page percent-encodes its paths).
fn percent_decoded(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 3 <= b.len() {
            let hex = std::str::from_utf8(&b[i + 1..i + 3]).unwrap();
            out.push(u8::from_str_radix(hex, 16).unwrap());
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

#[test]
fn reproduce_of_a_group_writes_a_page_whose_links_all_resolve() {
    let out: PathBuf =
        std::env::temp_dir().join(format!("memsnn-index-page-{}", std::process::id()));
    let _ = fs::remove_dir_all(&out);
    let o = Command::new(env!("CARGO_BIN_EXE_memsnn"))
        .args(["reproduce", "neuron", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let html = fs::read_to_string(out.join("index.html")).unwrap();

    // Every link and image names an existing file of the folder, by a relative path.
    let mut linked = BTreeSet::new();
    for link in attributes(&html, "href")
        .into_iter()
        .chain(attributes(&html, "src"))
    {
        if let Some(anchor) = link.strip_prefix('#') {
            assert!(
                html.contains(&format!("id=\"{anchor}\"")),
                "anchor #{anchor} has no target"
            );
            continue;
        }
        let path = percent_decoded(&link);
        assert!(
            !Path::new(&path).is_absolute() && !path.contains(".."),
            "{link} is not a relative path inside the folder"
        );
        assert!(out.join(&path).is_file(), "{link} does not resolve");
        linked.insert(path);
    }

    // Every figure, summary and CSV of each experiment is on the page.
    for name in ["fig3b", "fig3c", "learning", "propagation"] {
        for e in fs::read_dir(out.join(name)).unwrap() {
            let file = e.unwrap().file_name().into_string().unwrap();
            if [".png", ".csv", "summary.json"]
                .iter()
                .any(|x| file.ends_with(x))
            {
                let path = format!("{name}/{file}");
                assert!(linked.contains(&path), "{path} is not on the page");
            }
        }
    }

    // One table row per row of the terminal table (its header and rule excluded).
    let printed = String::from_utf8_lossy(&o.stdout);
    let terminal_rows = printed
        .lines()
        .skip(2)
        .filter(|l| !l.trim().is_empty())
        .count();
    let page_rows = html.matches("<tr>").count() - 1;
    assert_eq!(page_rows, terminal_rows, "{printed}");
    assert!(page_rows >= 4, "one row per experiment at least");
    let _ = fs::remove_dir_all(&out);
}

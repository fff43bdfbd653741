//! The reader process of `tests/fuzz_damaged.rs`: reads each file it is given through every read
//! path of its kind and reports, one line per file, how it went. A binary, not a test, so that
//! the parent can run it under a time and memory limit and see a hang, a crash or an abort as
//! what it is.
//!
//! ```text
//! ctx-store-fuzz-reader KIND FILE...
//! ```
//!
//! KIND is `txt`, `vis`, `caption`, `haav-txt`, `haav-vis` or `haav-caption`. For each FILE (by
//! its position N) the reader prints `begin N` before reading and `end N OK ERR FIRST` after:
//! the read calls that succeeded and failed, and the first error. A read that hangs, panics or
//! aborts leaves a `begin` without its `end`.
#![allow(clippy::print_stdout)] // its stdout is the parent's protocol

use std::io::Write;
use std::path::Path;

use ctx_store::{
    CaptionDb, HaavCaptionDb, HaavTxtCtxReader, HaavVisCtxReader, Result, TxtCtxReader, View,
    VisCtxReader,
};

/// Successes and failures of one file's reads, and the first error.
#[derive(Default)]
struct Outcome {
    ok: usize,
    err: usize,
    first: Option<String>,
}

impl Outcome {
    fn note<T>(&mut self, r: Result<T>) -> Option<T> {
        match r {
            Ok(v) => {
                self.ok += 1;
                Some(v)
            }
            Err(e) => {
                self.err += 1;
                self.first.get_or_insert_with(|| e.to_string());
                None
            }
        }
    }
}

fn txt(o: &mut Outcome, r: Option<TxtCtxReader>) {
    let Some(r) = r else { return };
    let ids = o.note(r.keys()).unwrap_or_default();
    for id in &ids {
        for view in View::ALL {
            o.note(r.view(id, view, None, None));
        }
        o.note(r.get(id));
    }
    o.note(r.preload());
    o.note(r.provenance());
}

fn read(kind: &str, path: &Path, o: &mut Outcome) {
    match kind {
        "txt" => {
            let r = o.note(TxtCtxReader::open(path));
            txt(o, r)
        }
        "vis" => {
            if let Some(r) = o.note(VisCtxReader::open(path)) {
                for id in o.note(r.ids()).unwrap_or_default() {
                    o.note(r.get(id));
                }
                o.note(r.preload());
                o.note(r.provenance());
            }
        }
        "caption" => {
            if let Some(db) = o.note(CaptionDb::open(path)) {
                o.note(db.load());
                for i in 0..db.len().min(64) {
                    o.note(db.get(i));
                }
                o.note(db.provenance());
            }
        }
        "haav-txt" => {
            if let Some(r) = o.note(HaavTxtCtxReader::open(path)) {
                let ids = o.note(r.keys()).unwrap_or_default();
                for id in &ids {
                    for view in View::ALL {
                        o.note(r.view(id, view, None, None));
                    }
                    o.note(r.get(id));
                    o.note(r.view_rows(id));
                }
                o.note(r.preload());
            }
        }
        "haav-vis" => {
            if let Some(r) = o.note(HaavVisCtxReader::open(path)) {
                for id in o.note(r.ids()).unwrap_or_default() {
                    o.note(r.get(id));
                }
                o.note(r.preload());
                o.note(r.provenance());
            }
        }
        "haav-caption" => {
            if let Some(db) = o.note(HaavCaptionDb::open(path)) {
                o.note(db.load());
                for i in 0..db.len().min(64) {
                    o.note(db.get(i));
                }
            }
        }
        other => panic!("unknown kind {other}"),
    }
    // What ctx-inspect does with the file: detect, summarise, check.
    o.note(ctx_store::detect(path));
    o.note(ctx_store::summarize(path));
    o.note(ctx_store::check(path));
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (kind, files) = args.split_first().expect("usage: ctx-store-fuzz-reader KIND FILE...");
    let mut out = std::io::stdout().lock();
    for (n, file) in files.iter().enumerate() {
        writeln!(out, "begin {n}").and_then(|()| out.flush()).expect("stdout");
        let mut o = Outcome::default();
        read(kind, Path::new(file), &mut o);
        let first = o.first.unwrap_or_default().replace('\n', " ");
        writeln!(out, "end {n} {} {} {first}", o.ok, o.err)
            .and_then(|()| out.flush())
            .expect("out");
    }
}

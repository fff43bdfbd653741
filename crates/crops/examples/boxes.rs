//! `cargo run -p crops --example boxes -- W H`: the five and nine crop boxes of a W x H image as
//! `{"five": [[l,t,r,b], ...5], "nine": [[l,t,r,b], ...9]}`.

use std::io::Write;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<u32> = std::env::args().skip(1).filter_map(|a| a.parse().ok()).collect();
    let [w, h] = args[..] else {
        let _ = writeln!(std::io::stderr(), "usage: boxes W H (two positive integers)");
        return ExitCode::FAILURE;
    };
    let five: Vec<[u32; 4]> = crops::five(w, h).iter().map(|b| b.to_array()).collect();
    let nine: Vec<[u32; 4]> = crops::nine(w, h).iter().map(|b| b.to_array()).collect();
    let _ = writeln!(std::io::stdout(), "{}", serde_json::json!({"five": five, "nine": nine}));
    ExitCode::SUCCESS
}

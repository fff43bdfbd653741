//! The three per-step binaries (`encode-images`, `encode-captions`, `retrieve-captions`) and
//! `ctx-merge`: common flags, sharding, resume, progress and failure records live here.

pub mod compact_out;
pub mod convert;
pub mod decode;
mod device_batch;
pub mod encode_captions;
pub mod encode_images;
pub mod exclude;
mod host_rows;
pub mod images;
pub mod json_object;
pub mod json_out;
pub mod merge;
pub mod output;
pub mod retrieve;
pub mod shard;
pub mod sources;
pub mod stages;
pub mod step_times;
pub mod texts;
pub mod views;
pub mod vis_out;

use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result};
use clip_encoder::{ClipEncoder, Device, LoadOptions};
use ctx_store::Profile;
use indicatif::{ProgressBar, ProgressStyle};

pub use shard::Shard;

/// What to do with an input that cannot be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OnError {
    /// Stop with an error naming the input; what is written stays.
    Fail,
    /// Record it in `<out>.failures.jsonl`, go on, exit non-zero at the end.
    Skip,
}

/// Where CLIP's normalisation of the image inputs runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum NormaliseOn {
    /// On the model's device for a CUDA model, else on the CPU.
    Auto,
    /// On the model's device: the decoders send 8-bit levels (a quarter of f32's bytes, half of
    /// f16's) and the device looks up their normalised values, the same values the CPU computes.
    Device,
    /// On the CPU: the decoders write normalised values in the model's precision.
    Host,
}

/// Where the crops are resized (and centre-cropped).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ResizeOn {
    /// On the model's device for a CUDA model, else on the CPU.
    Auto,
    /// On the model's device: the decoders send the decoded images and the device resizes
    /// each crop in Pillow's integer arithmetic (the same levels as the CPU's), then
    /// normalises them there.
    Device,
    /// On the CPU, in the decoding threads.
    Host,
}

/// Flags shared by the three steps.
#[derive(Debug, Clone, clap::Args)]
pub struct StepFlags {
    /// Which files to write: `original` (the original pipeline's, read by its M2 training code)
    /// or `haav` (HAAV's: grid and pooled image features, caption values, the top 8k / 2k / k
    /// phrases per view, torchvision's centre crop); docs/haav.md.
    #[arg(long, default_value = "original", value_parser = parse_profile)]
    pub profile: Profile,
    /// auto (the first GPU, else the CPU), cpu, cuda or cuda:N.
    #[arg(long, default_value = "auto")]
    pub device: String,
    /// fp16 weights and activations (CUDA only).
    #[arg(long)]
    pub half: bool,
    /// Process slice I of N (0-based) into its own file `<out stem>.shard-I-of-N.hdf5`; join the
    /// shards with ctx-merge. Defaults from Slurm's SLURM_ARRAY_TASK_ID/COUNT when set.
    #[arg(long, value_parser = Shard::parse)]
    pub shard: Option<Shard>,
    /// Replace an existing output instead of resuming it.
    #[arg(long)]
    pub overwrite: bool,
    /// When the output is forced to the disk, for what it holds to survive a power cut:
    /// `batch` (every batch), `secs:N` (at the first batch N seconds after the last sync) or
    /// `end`. A killed run loses no finished batch whatever this says; docs/crash-safety.md.
    #[arg(long, default_value = "secs:10", value_parser = parse_sync)]
    pub sync: ctx_store::SyncPolicy,
    #[command(flatten)]
    pub log: crate::Verbosity,
}

/// Flags of the two steps that decode images (`encode-images`, `retrieve-captions`): those of
/// every step ([`StepFlags`], reached through `Deref`) and the decoders'.
#[derive(Debug, Clone, clap::Args)]
pub struct Common {
    #[command(flatten)]
    pub step: StepFlags,
    /// CPU threads decoding and cropping images [default: all cores].
    #[arg(long)]
    pub num_workers: Option<usize>,
    /// Where the image inputs are normalised (the values are the same either way).
    #[arg(long, value_enum, default_value = "auto")]
    pub normalise: NormaliseOn,
    /// Where the crops are resized (the levels are the same either way); on the device they
    /// are normalised there too.
    #[arg(long, value_enum, default_value = "auto")]
    pub resize: ResizeOn,
    /// What to do with an unreadable image.
    #[arg(long, value_enum, default_value = "fail")]
    pub on_error: OnError,
}

impl std::ops::Deref for Common {
    type Target = StepFlags;

    fn deref(&self) -> &StepFlags {
        &self.step
    }
}

fn parse_sync(s: &str) -> Result<ctx_store::SyncPolicy, String> {
    s.parse()
}

fn parse_profile(s: &str) -> Result<Profile, String> {
    Profile::from_name(s).ok_or_else(|| format!("`{s}`: expected original or haav"))
}

impl StepFlags {
    /// The image settings of the model for this profile (HAAV's queries and features take
    /// torchvision's centre crop).
    pub fn preprocess(&self, enc: &ClipEncoder) -> crops::ClipPreprocess {
        let crop = match self.profile {
            Profile::Original => crops::CenterCrop::Clip,
            Profile::Haav => crops::CenterCrop::Torchvision,
        };
        crops::ClipPreprocess { crop, ..enc.preprocess().clone() }
    }

    /// The shard: the flag, else Slurm's array variables, else none.
    pub fn shard(&self) -> Result<Option<Shard>> {
        match self.shard {
            Some(s) => Ok(Some(s)),
            None => Shard::from_slurm(),
        }
    }

    pub fn device(&self) -> Result<Device> {
        let device = clip_encoder::parse_device(&self.device)?;
        tracing::info!(device = %clip_encoder::device_name(device), "device");
        Ok(device)
    }

    /// Loads the checkpoint on the chosen device and, on a second thread meanwhile, takes its
    /// fingerprint for the run's provenance ([`output::model_fingerprint`]): a load error comes
    /// first, being the clearer one.
    pub fn load_model_fingerprinted(&self, dir: &std::path::Path) -> Result<(ClipEncoder, String)> {
        std::thread::scope(|s| {
            let fingerprint = s.spawn(|| output::model_fingerprint(dir));
            let enc = self.load_model(dir);
            let fingerprint = fingerprint.join().expect("fingerprinting does not panic");
            Ok((enc?, fingerprint?))
        })
    }

    /// Loads the checkpoint on the chosen device.
    pub fn load_model(&self, dir: &std::path::Path) -> Result<ClipEncoder> {
        let device = self.device()?;
        if self.half && device == Device::Cpu {
            anyhow::bail!("--half needs a CUDA device (the CPU runs fp32)");
        }
        let opts = LoadOptions { device, half: self.half };
        ClipEncoder::load(dir, &opts).with_context(|| format!("loading model {}", dir.display()))
    }
}

impl Common {
    /// The element type the decoders write the image inputs in for `enc`: 8-bit levels where
    /// the model's device normalises them ([`NormaliseOn`]), else the model's kind.
    pub fn pixel_kind(&self, enc: &ClipEncoder) -> clip_encoder::Kind {
        match (self.normalise, enc.device()) {
            (NormaliseOn::Host, _) | (NormaliseOn::Auto, Device::Cpu) => enc.kind(),
            _ => clip_encoder::Kind::Uint8,
        }
    }

    /// Whether the model's device resizes the crops ([`ResizeOn`]); it then normalises them
    /// too, so `--normalise host` with `--resize device` is refused.
    pub fn resize_on_device(&self, enc: &ClipEncoder) -> Result<bool> {
        let on_device = match (self.resize, enc.device()) {
            (ResizeOn::Host, _) | (ResizeOn::Auto, Device::Cpu) => false,
            (ResizeOn::Device, _) | (ResizeOn::Auto, _) => true,
        };
        if on_device && self.normalise == NormaliseOn::Host {
            anyhow::ensure!(
                self.resize == ResizeOn::Auto,
                "--resize device resizes and normalises on the device: --normalise host cannot \
                 be kept"
            );
            return Ok(false);
        }
        Ok(on_device)
    }

    pub fn workers(&self) -> usize {
        self.num_workers
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
    }
}

/// A progress bar on stderr, hidden when stderr is not a terminal or with `--quiet`.
pub fn progress(len: u64, what: &str, quiet: bool) -> ProgressBar {
    if quiet || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let pb = ProgressBar::new(len);
    pb.set_style(
        ProgressStyle::with_template("{msg:>16} [{bar:40}] {pos}/{len} {per_sec} ETA {eta}")
            .expect("valid template")
            .progress_chars("=> "),
    );
    pb.set_message(what.to_owned());
    pb
}

/// The end-of-run line: counts, seconds, output.
pub struct Summary {
    pub tool: &'static str,
    pub what: &'static str,
    pub written: usize,
    pub already: usize,
    pub skipped: usize,
    pub started: Instant,
    pub out: PathBuf,
}

impl Summary {
    pub fn print(&self) {
        let line = format!(
            "{}: {} {} written, {} already there, {} skipped, {:.1} s -> {}",
            self.tool,
            self.written,
            self.what,
            self.already,
            self.skipped,
            self.started.elapsed().as_secs_f64(),
            self.out.display()
        );
        #[allow(clippy::print_stderr)] // the one summary line of a run
        {
            eprintln!("{line}");
        }
    }
}

/// Testing aid: `XCTX_ABORT_AFTER_BATCHES=N` aborts the process (no clean-up, like a kill)
/// right after the N-th batch has been written.
pub fn maybe_abort(batches_written: usize) {
    if let Some(n) =
        std::env::var("XCTX_ABORT_AFTER_BATCHES").ok().and_then(|v| v.parse::<usize>().ok())
        && batches_written >= n
    {
        std::process::abort();
    }
}

/// SIGTERM (Slurm's preemption, `scancel`) or SIGINT (Ctrl-C) asks a step to stop: its source
/// takes no new work, what is in flight is written and flushed, and the step exits non-zero
/// saying so; the same command then continues. A second signal of either kind ends the process
/// at once (what is written stays, as after any kill).
pub fn install_stop_handlers() -> Result<()> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let flag = stop_flag();
    for sig in [SIGTERM, SIGINT] {
        // The second signal exits (the flag is set by the first).
        signal_hook::flag::register_conditional_shutdown(sig, 1, std::sync::Arc::clone(flag))
            .context("installing the signal handlers")?;
        signal_hook::flag::register(sig, std::sync::Arc::clone(flag))
            .context("installing the signal handlers")?;
    }
    Ok(())
}

fn stop_flag() -> &'static std::sync::Arc<std::sync::atomic::AtomicBool> {
    static FLAG: std::sync::OnceLock<std::sync::Arc<std::sync::atomic::AtomicBool>> =
        std::sync::OnceLock::new();
    FLAG.get_or_init(Default::default)
}

/// Whether a stop was asked for ([`install_stop_handlers`]).
pub fn stop_requested() -> bool {
    stop_flag().load(std::sync::atomic::Ordering::Relaxed)
}

/// After a step's flow has ended: an error when it ended because a stop was asked for.
pub fn check_stopped(tool: &str, written: usize) -> Result<()> {
    if stop_requested() {
        anyhow::bail!(
            "{tool}: stopped by a signal after writing {written} more; the same command continues"
        );
    }
    Ok(())
}

/// Testing aid: with `XCTX_PAUSE_AFTER_BATCHES=N` and `XCTX_PAUSE_FILE=PATH`, a step's source
/// creates PATH once it has handed on N batches and waits (up to a minute) until PATH is removed,
/// so that a test can signal the process at a known point.
pub fn maybe_pause(batches_handed_on: usize) {
    let n = std::env::var("XCTX_PAUSE_AFTER_BATCHES").ok().and_then(|v| v.parse::<usize>().ok());
    let (Some(n), Some(path)) = (n, std::env::var_os("XCTX_PAUSE_FILE")) else { return };
    if batches_handed_on != n || std::fs::write(&path, b"paused").is_err() {
        return;
    }
    let until = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while std::path::Path::new(&path).exists() && std::time::Instant::now() < until {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

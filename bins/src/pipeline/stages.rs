//! Pipeline stages: each step is a chain of named threads joined by bounded channels, read top to
//! bottom in the step's file: a [`source`] makes items, [`Flow::map`] and [`Flow::stage`] turn them
//! into others on threads of their own, and the calling thread consumes the last ones
//! ([`Flow::recv`]) before [`Flow::finish`] joins everything.
//!
//! Every stage keeps three clocks: the time it worked, the time it waited for its input and the
//! time it waited for room downstream. The stage that works nearly all the time while the others
//! wait is the one that limits the run; [`Report::log`] prints them (`-v`).
//!
//! Errors: a stage that fails stops; the stages before it stop at their next send and the ones
//! after it see the end of their input. [`Flow::finish`] returns the first error, upstream first,
//! so a consumer that saw a short stream learns why. Dropping a flow (the consumer failed) stops
//! and joins every stage, so no thread outlives the step (and none touches libtorch while the
//! process exits).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, RecvError, SyncSender, TryRecvError, sync_channel};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{Result, anyhow};

/// The clocks of one stage (nanoseconds).
#[derive(Debug, Default)]
struct Clock {
    idle: AtomicU64,
    blocked: AtomicU64,
    items: AtomicUsize,
}

impl Clock {
    fn add(slot: &AtomicU64, d: Duration) {
        slot.fetch_add(d.as_nanos() as u64, Ordering::Relaxed);
    }
}

/// A stage's input: the previous stage's items, with the time spent waiting for them counted.
pub struct Input<T> {
    rx: Receiver<T>,
    clock: Arc<Clock>,
}

impl<T> Input<T> {
    /// The next item; `None` once the previous stage has ended.
    pub fn recv(&self) -> Option<T> {
        let t = Instant::now();
        let r = self.rx.recv();
        Clock::add(&self.clock.idle, t.elapsed());
        r.ok()
    }

    /// An item if one is ready now: `Ok(None)` when none is yet, `Err` once the previous stage
    /// has ended.
    pub fn try_recv(&self) -> Result<Option<T>, RecvError> {
        match self.rx.try_recv() {
            Ok(v) => Ok(Some(v)),
            Err(TryRecvError::Empty) => Ok(None),
            Err(TryRecvError::Disconnected) => Err(RecvError),
        }
    }
}

/// The next stage has stopped: the sending stage should return `Ok(())` and leave the error
/// (if any) to the stage that stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stopped;

/// A stage's output, with the time spent waiting for room downstream counted.
pub struct Emit<T> {
    tx: SyncSender<T>,
    clock: Arc<Clock>,
}

impl<T> Emit<T> {
    /// Hands `item` on, waiting while the channel is full.
    pub fn send(&mut self, item: T) -> Result<(), Stopped> {
        let t = Instant::now();
        let r = self.tx.send(item).map_err(|_| Stopped);
        Clock::add(&self.clock.blocked, t.elapsed());
        if r.is_ok() {
            self.clock.items.fetch_add(1, Ordering::Relaxed);
        }
        r
    }
}

struct Running {
    name: &'static str,
    clock: Arc<Clock>,
    handle: Option<JoinHandle<Result<()>>>,
    started: Instant,
    ended: Arc<AtomicU64>,
}

/// A chain of running stages whose last output the caller consumes.
pub struct Flow<T> {
    rx: Option<Receiver<T>>,
    stages: Vec<Running>,
    /// The consumer's clock (its waits for the last stage count as idle).
    consumer: Arc<Clock>,
}

fn spawn<T: Send + 'static>(
    name: &'static str,
    depth: usize,
    stages: Vec<Running>,
    consumer: Arc<Clock>,
    body: impl FnOnce(&mut Emit<T>) -> Result<()> + Send + 'static,
) -> Result<Flow<T>> {
    let (tx, rx) = sync_channel(depth.max(1));
    let clock = Arc::new(Clock::default());
    let ended = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let (c, e) = (Arc::clone(&clock), Arc::clone(&ended));
    let mut flow = Flow { rx: Some(rx), stages, consumer };
    let handle = std::thread::Builder::new().name(format!("xctx-{name}")).spawn(move || {
        let mut emit = Emit { tx, clock: Arc::clone(&c) };
        let r = body(&mut emit);
        e.store(started.elapsed().as_nanos() as u64, Ordering::Relaxed);
        r
    });
    let handle = match handle {
        Ok(h) => h,
        Err(err) => {
            drop(flow);
            return Err(anyhow!("starting the {name} thread: {err}"));
        }
    };
    flow.stages.push(Running { name, clock, handle: Some(handle), started, ended });
    Ok(flow)
}

/// A first stage on a thread of its own: `body` makes the items and hands them to its [`Emit`];
/// at most `depth` wait for the next stage.
pub fn source<T: Send + 'static>(
    name: &'static str,
    depth: usize,
    body: impl FnOnce(&mut Emit<T>) -> Result<()> + Send + 'static,
) -> Result<Flow<T>> {
    spawn(name, depth, Vec::new(), Arc::new(Clock::default()), body)
}

impl<T: Send + 'static> Flow<T> {
    /// A stage that turns each item into one, in order; at most `depth` results wait.
    pub fn map<U: Send + 'static>(
        self,
        name: &'static str,
        depth: usize,
        mut f: impl FnMut(T) -> Result<U> + Send + 'static,
    ) -> Result<Flow<U>> {
        self.stage(name, depth, move |input, emit| {
            while let Some(item) = input.recv() {
                let out = f(item)?;
                if emit.send(out).is_err() {
                    break;
                }
            }
            Ok(())
        })
    }

    /// A stage with its own loop over its input (to gather several items into one, say); the
    /// time outside `recv` and `send` counts as work.
    pub fn stage<U: Send + 'static>(
        mut self,
        name: &'static str,
        depth: usize,
        body: impl FnOnce(&Input<T>, &mut Emit<U>) -> Result<()> + Send + 'static,
    ) -> Result<Flow<U>> {
        let rx = self.rx.take().expect("a flow's output is taken once");
        let stages = std::mem::take(&mut self.stages);
        let consumer = Arc::clone(&self.consumer);
        spawn(name, depth, stages, consumer, move |emit| {
            let input = Input { rx, clock: Arc::clone(&emit.clock) };
            body(&input, emit)
        })
    }

    /// The last stage's next item; `None` at the end (then [`Flow::finish`] says whether it
    /// ended well).
    pub fn recv(&self) -> Option<T> {
        let t = Instant::now();
        let r = self.rx.as_ref().and_then(|rx| rx.recv().ok());
        Clock::add(&self.consumer.idle, t.elapsed());
        if r.is_some() {
            self.consumer.items.fetch_add(1, Ordering::Relaxed);
        }
        r
    }

    /// Waits for every stage and returns the first error, upstream first; with no error, each
    /// stage's clocks.
    pub fn finish(mut self) -> Result<Report> {
        let mut first = None;
        self.join(&mut first);
        match first {
            Some(e) => Err(e),
            None => Ok(self.report()),
        }
    }

    /// The clocks so far.
    fn report(&self) -> Report {
        let ns = |a: &AtomicU64| Duration::from_nanos(a.load(Ordering::Relaxed));
        let stages = self
            .stages
            .iter()
            .map(|s| {
                let (idle, blocked) = (ns(&s.clock.idle), ns(&s.clock.blocked));
                let ended = ns(&s.ended);
                let alive = if ended.is_zero() { s.started.elapsed() } else { ended };
                StageTimes {
                    name: s.name,
                    busy: alive.saturating_sub(idle + blocked),
                    idle,
                    blocked,
                    items: s.clock.items.load(Ordering::Relaxed),
                }
            })
            .collect();
        Report { stages, consumer_idle: ns(&self.consumer.idle) }
    }

    /// Stops the stages (the last output is dropped, so each stage's send fails in turn) and
    /// joins them, last first; the first error upstream first goes to `first`.
    fn join(&mut self, first: &mut Option<anyhow::Error>) {
        drop(self.rx.take());
        let mut errors: Vec<Option<anyhow::Error>> = Vec::new();
        for s in self.stages.iter_mut().rev() {
            let Some(h) = s.handle.take() else { continue };
            errors.push(match h.join() {
                Ok(Ok(())) => None,
                Ok(Err(e)) => Some(e),
                Err(_) => Some(anyhow!("the {} stage panicked", s.name)),
            });
        }
        *first = errors.into_iter().rev().flatten().next();
    }
}

impl<T> Drop for Flow<T> {
    fn drop(&mut self) {
        drop(self.rx.take());
        for s in self.stages.iter_mut().rev() {
            if let Some(h) = s.handle.take() {
                let _ = h.join();
            }
        }
    }
}

/// One stage's clocks.
#[derive(Debug, Clone)]
pub struct StageTimes {
    pub name: &'static str,
    /// Working (not waiting for input or for room downstream).
    pub busy: Duration,
    /// Waiting for input.
    pub idle: Duration,
    /// Waiting for the next stage to take its output.
    pub blocked: Duration,
    /// Items handed on.
    pub items: usize,
}

/// Every stage's clocks, in pipeline order.
#[derive(Debug, Clone)]
pub struct Report {
    pub stages: Vec<StageTimes>,
    /// The consumer (the caller of [`Flow::recv`]) waiting for the last stage.
    pub consumer_idle: Duration,
}

impl Report {
    /// The stage that worked the longest: the one that limits the run when the others wait.
    pub fn busiest(&self) -> Option<&StageTimes> {
        self.stages.iter().max_by_key(|s| s.busy)
    }

    /// Logs each stage's clocks (debug, `-v`) and the busiest one (info).
    pub fn log(&self, step: &str) {
        for s in &self.stages {
            tracing::debug!(
                stage = s.name,
                busy_s = s.busy.as_secs_f64(),
                waiting_for_input_s = s.idle.as_secs_f64(),
                waiting_for_room_s = s.blocked.as_secs_f64(),
                items = s.items,
                "{step}: stage"
            );
        }
        if let Some(b) = self.busiest() {
            tracing::info!(stage = b.name, busy_s = b.busy.as_secs_f64(), "{step}: busiest stage");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn numbers(n: u32) -> Result<Flow<u32>> {
        source("numbers", 2, move |out| {
            for i in 0..n {
                if out.send(i).is_err() {
                    break;
                }
            }
            Ok(())
        })
    }

    #[test]
    fn items_flow_in_order_through_every_stage() {
        let flow = numbers(100)
            .unwrap()
            .map("double", 1, |x| Ok(x * 2))
            .unwrap()
            .stage("pairs", 1, |input, out| {
                // Gathers two items into one, the last alone.
                let mut held = Vec::new();
                while let Some(x) = input.recv() {
                    held.push(x);
                    if held.len() == 2 && out.send(std::mem::take(&mut held)).is_err() {
                        return Ok(());
                    }
                }
                if !held.is_empty() {
                    let _ = out.send(held);
                }
                Ok(())
            })
            .unwrap();
        let mut got = Vec::new();
        while let Some(v) = flow.recv() {
            got.extend(v);
        }
        let report = flow.finish().unwrap();
        assert_eq!(got, (0..100).map(|x| x * 2).collect::<Vec<_>>());
        let names: Vec<_> = report.stages.iter().map(|s| s.name).collect();
        assert_eq!(names, ["numbers", "double", "pairs"]);
        assert_eq!(report.stages.iter().map(|s| s.items).collect::<Vec<_>>(), [100, 100, 50]);
    }

    #[test]
    fn the_slow_stage_is_the_busiest_and_the_others_wait_for_it() {
        let flow = numbers(20)
            .unwrap()
            .map("slow", 1, |x| {
                std::thread::sleep(Duration::from_millis(10));
                Ok(x)
            })
            .unwrap()
            .map("fast", 1, Ok)
            .unwrap();
        while flow.recv().is_some() {}
        let r = flow.finish().unwrap();
        let slow = &r.stages[1];
        assert_eq!(r.busiest().unwrap().name, "slow");
        assert!(slow.busy >= Duration::from_millis(190), "{slow:?}");
        // The source waited for room, the fast stage for input.
        assert!(r.stages[0].blocked >= Duration::from_millis(100), "{r:?}");
        assert!(r.stages[2].idle >= Duration::from_millis(100), "{r:?}");
    }

    #[test]
    fn an_error_upstream_surfaces_after_a_short_stream() {
        let flow = numbers(10)
            .unwrap()
            .map("fails at 5", 1, |x| if x == 5 { Err(anyhow!("bad item {x}")) } else { Ok(x) })
            .unwrap()
            .map("after", 1, Ok)
            .unwrap();
        let mut got = Vec::new();
        while let Some(v) = flow.recv() {
            got.push(v);
        }
        assert_eq!(got, [0, 1, 2, 3, 4]);
        let e = flow.finish().unwrap_err();
        assert_eq!(e.to_string(), "bad item 5");
    }

    #[test]
    fn a_panicking_stage_is_an_error_and_dropping_a_flow_stops_every_thread() {
        let flow = numbers(10)
            .unwrap()
            .map("panics", 1, |x| if x == 3 { panic!("boom") } else { Ok(x) })
            .unwrap();
        while flow.recv().is_some() {}
        let e = flow.finish().unwrap_err();
        assert!(e.to_string().contains("panics"), "{e}");

        // An endless source stops when the consumer drops the flow.
        let ran = Arc::new(AtomicUsize::new(0));
        let r = Arc::clone(&ran);
        let flow = source("endless", 1, move |out| {
            while out.send(()).is_ok() {
                r.fetch_add(1, Ordering::Relaxed);
            }
            Ok(())
        })
        .unwrap()
        .map("pass", 1, Ok)
        .unwrap();
        assert!(flow.recv().is_some());
        drop(flow);
        let after = ran.load(Ordering::Relaxed);
        std::thread::sleep(Duration::from_millis(20));
        assert_eq!(ran.load(Ordering::Relaxed), after, "a stage outlived its flow");
    }
}

//! An output writer on its own thread, so that HDF5 writing (gzip included) overlaps the model:
//! the step queues each batch's write and goes on; a few batches may wait.
//!
//! Nothing queued is lost: when the step stops early (an error, `--on-error fail`), dropping the
//! writer still writes every queued batch before the thread ends. A kill loses only batches
//! not yet written, which a resumed run does again.

use std::sync::mpsc::{SyncSender, sync_channel};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{Result, anyhow};

type Job<W> = Box<dyn FnOnce(&mut W) -> Result<()> + Send>;

/// A writer `W` owned by a thread that runs queued jobs on it in order.
pub struct Background<W: Send + 'static> {
    tx: Option<SyncSender<Job<W>>>,
    thread: Option<JoinHandle<Result<(W, Duration)>>>,
}

impl<W: Send + 'static> Background<W> {
    /// Moves `writer` to a new thread; at most `depth` jobs wait for it.
    pub fn new(writer: W, depth: usize) -> Result<Self> {
        let (tx, rx) = sync_channel::<Job<W>>(depth);
        let thread = std::thread::Builder::new().name("xctx-writer".into()).spawn(move || {
            let mut w = writer;
            let mut busy = Duration::ZERO;
            for job in rx {
                let t = Instant::now();
                job(&mut w)?;
                busy += t.elapsed();
            }
            Ok((w, busy))
        })?;
        Ok(Background { tx: Some(tx), thread: Some(thread) })
    }

    /// Queues `job` (waiting while `depth` jobs are queued); after a failed job, returns its
    /// error instead.
    pub fn send(&mut self, job: impl FnOnce(&mut W) -> Result<()> + Send + 'static) -> Result<()> {
        let tx = self.tx.as_ref().expect("open until finish");
        if tx.send(Box::new(job)).is_err() {
            // The thread stopped at a failed job: its error.
            return Err(self.join().err().unwrap_or_else(|| anyhow!("the writer thread stopped")));
        }
        Ok(())
    }

    /// Waits for every queued job; the writer back, and the time the thread spent writing.
    pub fn finish(mut self) -> Result<(W, Duration)> {
        self.join()
    }

    fn join(&mut self) -> Result<(W, Duration)> {
        drop(self.tx.take());
        match self.thread.take() {
            Some(t) => t.join().map_err(|_| anyhow!("the writer thread panicked"))?,
            None => Err(anyhow!("the writer thread has already ended")),
        }
    }
}

impl<W: Send + 'static> Drop for Background<W> {
    /// Writes what is queued (see the module docs).
    fn drop(&mut self) {
        if self.thread.is_some() {
            let _ = self.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jobs_run_in_order_and_errors_surface() {
        let mut bg = Background::new(Vec::new(), 2).unwrap();
        for i in 0..10 {
            bg.send(move |v: &mut Vec<i32>| {
                v.push(i);
                Ok(())
            })
            .unwrap();
        }
        let (v, _) = bg.finish().unwrap();
        assert_eq!(v, (0..10).collect::<Vec<_>>());

        let mut bg = Background::new(0, 1).unwrap();
        bg.send(|_: &mut i32| Err(anyhow!("disk full"))).unwrap();
        let mut err = None;
        for _ in 0..4 {
            if let Err(e) = bg.send(|_: &mut i32| Ok(())) {
                err = Some(e);
                break;
            }
        }
        assert!(err.expect("the failure surfaces").to_string().contains("disk full"));
    }

    #[test]
    fn dropping_writes_what_is_queued() {
        let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let mut bg = Background::new(seen.clone(), 4).unwrap();
        for i in 0..3 {
            bg.send(move |s: &mut std::sync::Arc<std::sync::Mutex<Vec<i32>>>| {
                std::thread::sleep(Duration::from_millis(20));
                s.lock().unwrap().push(i);
                Ok(())
            })
            .unwrap();
        }
        drop(bg);
        assert_eq!(*seen.lock().unwrap(), vec![0, 1, 2]);
    }
}

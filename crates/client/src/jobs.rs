//! Running jobs by id, so the CLI's Ctrl-C and the app's Pause and Cancel buttons stop them the same way.
//! A job stopped by [`Jobs::cancel`] forgets what it sent (its journal, its local copy, the backend's
//! parts); one stopped by [`Jobs::pause`] keeps its journal, so the same upload resumes it later.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio_util::sync::CancellationToken;

/// How a running job is told to stop, and why.
#[derive(Debug, Clone, Default)]
pub struct Job {
    token: CancellationToken,
    paused: Arc<AtomicBool>,
}

impl Job {
    /// A job no registry knows (stopped only through this handle).
    pub fn new() -> Job {
        Job::default()
    }

    /// Stop and forget what was sent.
    pub fn cancel(&self) {
        self.token.cancel();
    }

    /// Stop and keep the journal, to resume later.
    pub fn pause(&self) {
        self.paused.store(true, Ordering::SeqCst);
        self.token.cancel();
    }

    /// Whether it was told to stop, either way.
    pub fn is_stopped(&self) -> bool {
        self.token.is_cancelled()
    }

    /// Whether it was paused (rather than cancelled).
    pub fn is_paused(&self) -> bool {
        self.paused.load(Ordering::SeqCst)
    }

    /// The token the work under way watches.
    pub fn token(&self) -> &CancellationToken {
        &self.token
    }
}

/// Job ids and their stop handles.
#[derive(Debug)]
pub struct Jobs {
    next: AtomicU64,
    running: Mutex<HashMap<u64, Job>>,
}

impl Default for Jobs {
    fn default() -> Jobs {
        Jobs {
            next: AtomicU64::new(1),
            running: Mutex::new(HashMap::new()),
        }
    }
}

impl Jobs {
    /// A new job id (not yet running).
    pub fn new_id(&self) -> u64 {
        self.next.fetch_add(1, Ordering::Relaxed)
    }

    /// Registers job `id` as running; it stays registered until the guard is dropped.
    pub fn start(self: &Arc<Self>, id: u64) -> Running {
        let job = Job::new();
        self.running
            .lock()
            .expect("not poisoned")
            .insert(id, job.clone());
        Running {
            jobs: self.clone(),
            id,
            job,
        }
    }

    /// Cancels job `id`: true if it was running.
    pub fn cancel(&self, id: u64) -> bool {
        self.with(id, Job::cancel)
    }

    /// Pauses job `id`: true if it was running.
    pub fn pause(&self, id: u64) -> bool {
        self.with(id, Job::pause)
    }

    /// Cancels every running job (the CLI's Ctrl-C).
    pub fn cancel_all(&self) {
        for job in self.running.lock().expect("not poisoned").values() {
            job.cancel();
        }
    }

    /// Ids of the running jobs.
    pub fn running(&self) -> Vec<u64> {
        let mut ids: Vec<u64> = self
            .running
            .lock()
            .expect("not poisoned")
            .keys()
            .copied()
            .collect();
        ids.sort_unstable();
        ids
    }

    fn with(&self, id: u64, stop: impl Fn(&Job)) -> bool {
        match self.running.lock().expect("not poisoned").get(&id) {
            Some(job) => {
                stop(job);
                true
            }
            None => false,
        }
    }
}

/// A registered job; dropping it forgets the id.
#[derive(Debug)]
pub struct Running {
    jobs: Arc<Jobs>,
    id: u64,
    job: Job,
}

impl Running {
    /// The job's stop handle, to pass to the work.
    pub fn job(&self) -> &Job {
        &self.job
    }

    /// Its id.
    pub fn id(&self) -> u64 {
        self.id
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.jobs
            .running
            .lock()
            .expect("not poisoned")
            .remove(&self.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jobs_stop_by_id_and_are_forgotten_once_done() {
        let jobs = Arc::new(Jobs::default());
        let (a, b) = (jobs.new_id(), jobs.new_id());
        assert_ne!(a, b);
        assert!(!jobs.cancel(a), "not running yet");
        let first = jobs.start(a);
        let second = jobs.start(b);
        assert_eq!(jobs.running(), vec![a, b]);
        assert!(jobs.pause(a));
        assert!(first.job().is_stopped() && first.job().is_paused());
        assert!(!second.job().is_stopped());
        assert!(jobs.cancel(b));
        assert!(second.job().is_stopped() && !second.job().is_paused());
        drop(first);
        assert_eq!(jobs.running(), vec![b]);
        assert!(!jobs.pause(a));
        drop(second);
        let third = jobs.start(jobs.new_id());
        jobs.cancel_all();
        assert!(third.job().is_stopped());
    }
}

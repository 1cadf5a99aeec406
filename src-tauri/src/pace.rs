//! How often the window hears about an upload's progress. The client reports every 4 MB read or every part
//! sent (about 80 times a second while converting); each report redraws the page, and a web view drawing in
//! software took as much CPU as the conversion itself (the app converted at half the CLI's speed). The
//! window gets a report when the stage changes, when a stage ends, and otherwise at most every
//! [`INTERVAL`].

use std::sync::Mutex;
use std::time::{Duration, Instant};

use delta_bridge_client::{Progress, Stage};

/// The shortest time between two reports within a stage (ten a second: smooth to the eye).
pub const INTERVAL: Duration = Duration::from_millis(100);

/// Decides which reports reach the window.
#[derive(Debug, Default)]
pub struct Pace {
    last: Mutex<Option<(Stage, Instant)>>,
}

impl Pace {
    /// Whether `progress`, reported at `now`, goes to the window.
    pub fn due(&self, progress: &Progress, now: Instant) -> bool {
        let mut last = self.last.lock().expect("not poisoned");
        let due = match *last {
            None => true,
            Some((stage, _)) if stage != progress.stage => true,
            _ if progress.bytes_done >= progress.bytes_total => true,
            Some((_, at)) => now.saturating_duration_since(at) >= INTERVAL,
        };
        if due {
            *last = Some((progress.stage, now));
        }
        due
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(stage: Stage, done: u64) -> Progress {
        Progress {
            stage,
            bytes_done: done,
            bytes_total: 100,
        }
    }

    #[test]
    fn stage_changes_and_ends_always_pass_and_the_rest_ten_times_a_second() {
        let pace = Pace::default();
        let start = Instant::now();
        let ms = |n| start + Duration::from_millis(n);
        assert!(pace.due(&at(Stage::Converting, 0), ms(0)));
        // 80 reports a second: one in eight reaches the window.
        let passed = (1..80)
            .filter(|i| pace.due(&at(Stage::Converting, *i), ms(i * 12)))
            .count();
        assert!((8..=10).contains(&passed), "{passed}");
        assert!(
            pace.due(&at(Stage::Converting, 100), ms(950)),
            "the stage's end"
        );
        assert!(pace.due(&at(Stage::Uploading, 0), ms(951)), "a new stage");
        assert!(!pace.due(&at(Stage::Uploading, 1), ms(960)));
    }
}

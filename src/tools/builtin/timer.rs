//! The `set_timer` built-in's book of timers: each with its label and due time. Saying it when
//! it is due (at the next pause, never over the user) is the conversation core's part; it asks
//! [`TimerBook::take_due`].

use std::sync::Mutex;
use std::time::{Duration, SystemTime};

/// Longest timer accepted: a day.
pub const MAX_TIMER: Duration = Duration::from_secs(24 * 3600);

/// One timer that was set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timer {
    /// Its number, from 1, in the order they were set.
    pub id: u64,
    /// What it is for ("the pasta"); may be empty.
    pub label: String,
    /// How long it was set for.
    pub duration: Duration,
    /// When it is due.
    pub due: SystemTime,
}

/// The timers set and not yet due (or due and not yet taken).
#[derive(Debug, Default)]
pub struct TimerBook {
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    last_id: u64,
    pending: Vec<Timer>,
}

impl TimerBook {
    /// Sets a timer of `duration` from `now`.
    pub fn set(&self, label: &str, duration: Duration, now: SystemTime) -> Timer {
        let mut state = self.state.lock().expect("timer book lock");
        state.last_id += 1;
        let timer = Timer {
            id: state.last_id,
            label: label.trim().to_owned(),
            duration,
            due: now + duration,
        };
        state.pending.push(timer.clone());
        timer
    }

    /// Removes and returns the timers due at `now`, the earliest first.
    pub fn take_due(&self, now: SystemTime) -> Vec<Timer> {
        let mut state = self.state.lock().expect("timer book lock");
        let (mut due, pending): (Vec<Timer>, Vec<Timer>) =
            state.pending.drain(..).partition(|t| t.due <= now);
        state.pending = pending;
        due.sort_by_key(|t| (t.due, t.id));
        due
    }

    /// The timers not yet taken, the earliest first.
    pub fn pending(&self) -> Vec<Timer> {
        let state = self.state.lock().expect("timer book lock");
        let mut pending = state.pending.clone();
        pending.sort_by_key(|t| (t.due, t.id));
        pending
    }
}

/// A duration in words: `5 minutes`, `1 hour 30 minutes`, `45 seconds`.
pub fn duration_words(duration: Duration) -> String {
    let total = duration.as_secs();
    let parts = [
        (total / 3600, "hour"),
        (total / 60 % 60, "minute"),
        (total % 60, "second"),
    ];
    let words: Vec<String> = parts
        .iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, unit)| match n {
            1 => format!("1 {unit}"),
            n => format!("{n} {unit}s"),
        })
        .collect();
    match words.is_empty() {
        true => "0 seconds".to_owned(),
        false => words.join(" "),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timers_come_due_in_order_and_once() {
        let book = TimerBook::default();
        let start = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000);
        let tea = book.set(" tea ", Duration::from_secs(180), start);
        let eggs = book.set("eggs", Duration::from_secs(60), start);
        assert_eq!(tea.label, "tea");
        assert_eq!((tea.id, eggs.id), (1, 2));
        assert_eq!(book.pending(), [eggs.clone(), tea.clone()]);
        assert!(book.take_due(start + Duration::from_secs(59)).is_empty());
        assert_eq!(book.take_due(start + Duration::from_secs(60)), [eggs]);
        assert_eq!(book.pending(), std::slice::from_ref(&tea));
        assert_eq!(book.take_due(start + Duration::from_secs(600)), [tea]);
        assert!(book.take_due(start + Duration::from_secs(600)).is_empty());
    }

    #[test]
    fn durations_are_said_in_units() {
        assert_eq!(duration_words(Duration::from_secs(300)), "5 minutes");
        assert_eq!(
            duration_words(Duration::from_secs(5_400)),
            "1 hour 30 minutes"
        );
        assert_eq!(duration_words(Duration::from_secs(61)), "1 minute 1 second");
    }
}

//! Microphone frames into a session without ever shortening its clock.
//!
//! A live microphone cannot wait: when the session is behind and its input queue is full, a
//! frame cannot be handed over now. Dropping it would make the session's sample clock (which
//! times turns, barge-in and the playback ledger) run shorter than the wall clock. Instead the
//! frame's length is owed as silence: the next time the queue has room, a silent block of
//! exactly the owed length goes first, then the live frame. The session hears a gap of the true
//! length; the transport counts the frames it replaced.

use tokio::sync::mpsc::{self, error::TrySendError};

use crate::runtime::TransportIn;

/// What became of one frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Handed {
    /// The session took it.
    Taken,
    /// The session was behind: the frame is owed as silence of its length.
    Gap,
    /// The session is gone.
    Closed,
}

/// A session's microphone input that turns frames it cannot take into owed silence.
#[derive(Debug)]
pub struct MicSender {
    tx: mpsc::Sender<TransportIn>,
    /// Samples of silence owed to the session.
    owed: usize,
}

impl MicSender {
    /// Wraps the session's input queue.
    pub fn new(tx: mpsc::Sender<TransportIn>) -> Self {
        Self { tx, owed: 0 }
    }

    /// Samples of silence owed now (frames the session could not take yet).
    pub fn owed(&self) -> usize {
        self.owed
    }

    /// Hands `frame` over, after any owed silence; never waits.
    pub fn send(&mut self, frame: Vec<f32>) -> Handed {
        if self.owed > 0 {
            match self.tx.try_send(TransportIn::Audio(vec![0.0; self.owed])) {
                Ok(()) => self.owed = 0,
                Err(TrySendError::Full(_)) => {
                    self.owed += frame.len();
                    return Handed::Gap;
                }
                Err(TrySendError::Closed(_)) => return Handed::Closed,
            }
        }
        match self.tx.try_send(TransportIn::Audio(frame)) {
            Ok(()) => Handed::Taken,
            Err(TrySendError::Full(TransportIn::Audio(frame))) => {
                self.owed += frame.len();
                Handed::Gap
            }
            Err(TrySendError::Closed(_)) => Handed::Closed,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn total(rx: &mut mpsc::Receiver<TransportIn>) -> Vec<Vec<f32>> {
        let mut got = Vec::new();
        while let Ok(TransportIn::Audio(a)) = rx.try_recv() {
            got.push(a);
        }
        got
    }

    #[test]
    fn frames_a_full_queue_refuses_reach_the_session_as_silence_of_their_length() {
        let (tx, mut rx) = mpsc::channel(2);
        let mut mic = MicSender::new(tx);
        assert_eq!(mic.send(vec![0.5; 320]), Handed::Taken);
        assert_eq!(mic.send(vec![0.5; 320]), Handed::Taken);
        // Full: three frames become owed silence.
        for _ in 0..3 {
            assert_eq!(mic.send(vec![0.5; 320]), Handed::Gap);
        }
        assert_eq!(mic.owed(), 960);
        let first = total(&mut rx);
        assert_eq!(first.len(), 2);
        // Room again: the silence goes first, then the live frame.
        assert_eq!(mic.send(vec![0.25; 320]), Handed::Taken);
        let then = total(&mut rx);
        assert_eq!(then, vec![vec![0.0; 960], vec![0.25; 320]]);
        assert_eq!(mic.owed(), 0);
        // The session's clock: six frames sent, six frames' worth of samples received.
        let received: usize = first.iter().chain(&then).map(Vec::len).sum();
        assert_eq!(received, 6 * 320);
    }

    #[test]
    fn a_frame_refused_after_the_silence_went_is_owed_in_turn() {
        let (tx, mut rx) = mpsc::channel(1);
        let mut mic = MicSender::new(tx);
        assert_eq!(mic.send(vec![0.5; 320]), Handed::Taken);
        assert_eq!(mic.send(vec![0.5; 320]), Handed::Gap);
        assert_eq!(total(&mut rx).len(), 1);
        // Room for one: the owed silence takes it, and this frame is owed.
        assert_eq!(mic.send(vec![0.5; 320]), Handed::Gap);
        assert_eq!(total(&mut rx), vec![vec![0.0; 320]]);
        assert_eq!(mic.owed(), 320);
    }

    #[test]
    fn a_gone_session_is_reported() {
        let (tx, rx) = mpsc::channel(1);
        drop(rx);
        assert_eq!(MicSender::new(tx).send(vec![0.0; 320]), Handed::Closed);
    }
}

//! Reply audio waiting for the core's word: the voice's speech for each chunk, kept here by its
//! chunk id from synthesis until the core asks for it ([`crate::agent::Output::Play`]) or drops
//! its turn. The core itself only learns that each chunk is ready (`Input::Synthesized`), so speech
//! never passes through it.

use std::collections::HashMap;

use duplex_core::playback::ChunkId;

use crate::agent::TurnId;

/// Synthesized chunks not yet sent to the transport: their rate and samples, by chunk.
#[derive(Default)]
pub(super) struct ReplyAudio {
    chunks: HashMap<ChunkId, (u32, Vec<f32>)>,
}

impl ReplyAudio {
    /// Keeps a chunk's speech (at `rate`) until it is played or its turn is dropped.
    pub(super) fn keep(&mut self, id: ChunkId, rate: u32, samples: Vec<f32>) {
        self.chunks.insert(id, (rate, samples));
    }

    /// Takes a chunk's speech to send it to playback.
    pub(super) fn take(&mut self, id: ChunkId) -> Option<(u32, Vec<f32>)> {
        self.chunks.remove(&id)
    }

    /// Drops whatever is kept of `turn` (it was cancelled, or it ended).
    pub(super) fn drop_turn(&mut self, turn: TurnId) {
        self.chunks.retain(|id, _| id.turn != turn);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(turn: u64, chunk: u32) -> ChunkId {
        ChunkId {
            turn: TurnId(turn),
            chunk,
        }
    }

    #[test]
    fn a_chunk_is_taken_once_and_a_dropped_turn_leaves_nothing() {
        let mut audio = ReplyAudio::default();
        audio.keep(id(1, 0), 22_050, vec![0.5; 3]);
        audio.keep(id(1, 1), 22_050, vec![0.25; 2]);
        audio.keep(id(2, 0), 22_050, vec![0.1; 4]);
        assert_eq!(audio.take(id(1, 0)), Some((22_050, vec![0.5; 3])));
        assert_eq!(audio.take(id(1, 0)), None);
        audio.drop_turn(TurnId(1));
        assert_eq!(audio.take(id(1, 1)), None);
        assert_eq!(audio.take(id(2, 0)), Some((22_050, vec![0.1; 4])));
    }
}

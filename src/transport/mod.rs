//! Transports: thin layers that own the I/O (a WAV file, the computer's sound card) and move
//! 20 ms frames of 16 kHz audio into a session and the agent's speech out of it, all keeping
//! one playback contract ([`playout`]).

pub mod desktop;
pub mod file;
pub mod mic_gap;
pub mod playout;
pub mod webrtc;

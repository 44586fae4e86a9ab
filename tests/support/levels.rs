//! Loudness over 10 ms frames, and how long a backchannel sounded and overlapped the user's
//! voice (shared by the backchannel tests of `converse_real.rs` and `desktop_echo.rs`).

/// Root-mean-square level of each 10 ms frame of `x` at `rate`.
pub fn frame_levels(x: &[f32], rate: u32) -> Vec<f32> {
    x.chunks((rate / 100) as usize)
        .map(|f| (f.iter().map(|s| s * s).sum::<f32>() / f.len() as f32).sqrt())
        .collect()
}

/// Milliseconds the agent's sound was heard (output above -50 dBFS) and, of those, over the
/// user's voice (above -34 dBFS), frame by frame from the same moment.
pub fn sounded_and_overlap_ms(
    output: &[f32],
    out_rate: u32,
    user: &[f32],
    user_rate: u32,
) -> (usize, usize) {
    let heard = frame_levels(output, out_rate);
    let spoken = frame_levels(user, user_rate);
    let sounding = heard.iter().filter(|l| **l > 0.003).count();
    let overlap = heard
        .iter()
        .zip(&spoken)
        .filter(|(h, s)| **h > 0.003 && **s > 0.02)
        .count();
    (sounding * 10, overlap * 10)
}

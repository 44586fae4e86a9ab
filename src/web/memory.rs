//! Memory that comes back after calls: `duplex serve` runs many sessions in turn, each
//! allocating engine states, buffers and threads, and glibc's allocator keeps what they free.
//!
//! Three measures, measured with `scripts/soak_serve.sh`: at most two malloc arenas (glibc
//! otherwise makes up to eight per core as new threads allocate, and memory freed in one arena
//! is not reused by threads of another, so it piles up as sessions come and go), a fixed mmap
//! threshold (see [`MMAP_THRESHOLD`]), and
//! `malloc_trim` after each session ends and after the next call's spare engines are loaded
//! (loading frees its temporaries), which hands the freed pages back to the system.
//!
//! A fourth is in what the spare engines hold: no large zeroed scratch (Whisper's decoding
//! state, the turn model's mel window) until their call starts. glibc serves a large `calloc`
//! from a gap that an earlier call freed, clearing it page by page, where a fresh mapping would
//! have stayed untouched; a spare set made so held 17 MiB more after the first call than before
//! it.

/// Malloc arenas allowed: one for the main thread and one shared by the rest.
const MALLOC_ARENAS: i32 = 2;

/// Allocations of this size or more get their own mapping, returned to the system when freed.
/// Setting it also stops glibc from raising the threshold each time such a block is freed
/// (its default, up to 32 MiB), after which a session's large buffers (audio, model scratch)
/// would come from the heap and leave it fragmented.
const MMAP_THRESHOLD: i32 = 256 * 1024;

/// Limits glibc's malloc arenas and fixes its mmap threshold; call before the server starts
/// its threads.
pub fn limit_arenas() {
    // glibc's own MALLOC_ARENA_MAX, when set, is the user's choice.
    if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
        set_malloc_option(libc::M_ARENA_MAX, MALLOC_ARENAS, "M_ARENA_MAX");
    }
    set_malloc_option(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD, "M_MMAP_THRESHOLD");
}

fn set_malloc_option(option: i32, value: i32, name: &str) {
    // SAFETY: mallopt only sets a glibc allocator parameter; called before other threads
    // allocate (and it is safe at any time in any case).
    if unsafe { libc::mallopt(option, value) } != 1 {
        tracing::debug!("mallopt({name}) was refused; memory may grow with each call");
    }
}

/// Hands the memory freed by an ended session back to the system.
pub async fn give_back() {
    let _ = tokio::task::spawn_blocking(trim).await;
}

/// Hands freed heap memory back to the system now (blocking: it walks the heaps).
pub fn trim() {
    // SAFETY: malloc_trim only walks glibc's own heaps; any thread may call it at any time.
    unsafe { libc::malloc_trim(0) };
}

/// Bytes of heap in use: handed out by malloc and not freed (small blocks and mmapped ones).
pub fn heap_in_use() -> u64 {
    // SAFETY: mallinfo2 only reads glibc's allocator statistics.
    let info = unsafe { libc::mallinfo2() };
    (info.uordblks + info.hblkhd) as u64
}

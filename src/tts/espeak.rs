//! espeak-ng through `espeakng-sys`: the only file of duplex's TTS with `unsafe` code.
//!
//! espeak-ng keeps its state in C globals and is not reentrant: it is initialised once per
//! process (a `OnceLock`), and every call that touches it runs under one `Mutex`, which also
//! remembers the voice currently selected. Text goes in as UTF-8; IPA phonemes come out, one
//! string per clause espeak found in the text.

#![allow(unsafe_code)]

use std::ffi::{CStr, CString, c_int, c_void};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use espeakng_sys as sys;

/// The result of the one initialisation: the data directory used, or why it failed.
static INIT: OnceLock<Result<PathBuf, String>> = OnceLock::new();

/// Serialises every call into espeak-ng; holds the name of the voice selected last.
static STATE: Mutex<Option<String>> = Mutex::new(None);

/// Initialises espeak-ng once, with `parent` as the directory that contains `espeak-ng-data`.
/// Later calls return the first result (espeak-ng cannot be initialised twice).
pub(super) fn initialize(parent: &Path) -> Result<&'static Path, String> {
    let result = INIT.get_or_init(|| {
        let _guard = STATE.lock().unwrap_or_else(|e| e.into_inner());
        let path = CString::new(parent.as_os_str().as_encoded_bytes()).map_err(|_| {
            format!(
                "espeak-ng data path {} contains a NUL byte",
                parent.display()
            )
        })?;
        let options = (sys::espeakINITIALIZE_DONT_EXIT) as c_int;
        // SAFETY: `path` is a valid NUL-terminated string that outlives the call, and espeak-ng
        // copies it. No other espeak-ng call can run concurrently: we hold STATE, and
        // `OnceLock` runs this closure at most once. DONT_EXIT makes espeak-ng return an error
        // instead of calling `exit()` when its data is unusable.
        let rate = unsafe {
            sys::espeak_Initialize(
                sys::espeak_AUDIO_OUTPUT_AUDIO_OUTPUT_SYNCHRONOUS,
                0,
                path.as_ptr(),
                options,
            )
        };
        if rate <= 0 {
            return Err(format!(
                "espeak_Initialize failed (code {rate}) with data directory {}/espeak-ng-data",
                parent.display()
            ));
        }
        Ok(parent.to_owned())
    });
    result.as_deref().map_err(Clone::clone)
}

/// Converts `text` to IPA phonemes with `voice` (an espeak-ng voice name such as "en-us").
/// Returns one string per clause; words inside a clause are separated by spaces.
/// `initialize` must have succeeded first.
pub(super) fn text_to_phonemes(voice: &str, text: &str) -> Result<Vec<String>, String> {
    match INIT.get() {
        Some(Ok(_)) => {}
        Some(Err(e)) => return Err(e.clone()),
        None => return Err("espeak-ng is not initialised".into()),
    }
    let mut current = STATE.lock().unwrap_or_else(|e| e.into_inner());
    if current.as_deref() != Some(voice) {
        let name = CString::new(voice).map_err(|_| format!("bad voice name {voice:?}"))?;
        // SAFETY: espeak-ng is initialised (checked above); we hold STATE, so no other call
        // runs concurrently; `name` is NUL-terminated and outlives the call.
        let code = unsafe { sys::espeak_SetVoiceByName(name.as_ptr()) };
        if code != sys::espeak_ERROR_EE_OK {
            *current = None;
            return Err(format!("espeak-ng has no voice {voice:?} (code {code})"));
        }
        *current = Some(voice.to_owned());
    }
    let clean: String = text.chars().filter(|&c| c != '\0').collect();
    let input = CString::new(clean).expect("NUL bytes were removed");
    let mut cursor: *const c_void = input.as_ptr().cast();
    let mut clauses = Vec::new();
    // espeak-ng advances `cursor` by at least one clause per call and sets it to NULL at the end
    // of the text; the bound only guards against a library that would not.
    for _ in 0..=input.as_bytes().len() {
        if cursor.is_null() {
            break;
        }
        // SAFETY: espeak-ng is initialised and we hold STATE (no concurrent call). `cursor`
        // points into `input`, a NUL-terminated UTF-8 buffer that lives until the end of this
        // function; espeak-ng only reads from it and moves `cursor` forward within it or sets
        // it to NULL. The returned pointer is NULL or a NUL-terminated string in espeak-ng's
        // own buffer, valid until the next call, and copied at once below.
        let phonemes = unsafe {
            let out = sys::espeak_TextToPhonemes(
                &mut cursor,
                sys::espeakCHARS_UTF8 as c_int,
                sys::espeakPHONEMES_IPA as c_int,
            );
            if out.is_null() {
                break;
            }
            CStr::from_ptr(out).to_string_lossy().into_owned()
        };
        clauses.push(phonemes);
    }
    Ok(clauses)
}

//! Runs a command tool: the call's arguments go to its stdin as one JSON object, its stdout is
//! the result. The process runs in a process group of its own, and the whole group is killed
//! when the call times out or is cancelled (and when the call's future is dropped), so a shell
//! script's children do not outlive it.

use std::process::Stdio;
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::process::Command;
use tokio_util::sync::CancellationToken;

use super::outcome::ToolOutcome;

/// Most bytes of stdout passed on; a longer answer is cut here (a tool's answer is spoken).
pub const MAX_OUTPUT_BYTES: usize = 16 * 1024;

/// Lines of stderr quoted when a command fails.
const STDERR_LINES: usize = 3;

/// Runs `argv` with `arguments` on stdin; at most `timeout`, or until `cancel` fires.
pub async fn run_command(
    argv: &[String],
    arguments: &serde_json::Value,
    timeout: Duration,
    cancel: &CancellationToken,
) -> ToolOutcome {
    let Some((program, args)) = argv.split_first() else {
        return ToolOutcome::Failed("the tool has an empty command".into());
    };
    let mut command = Command::new(program);
    command
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    let mut child = match command.spawn() {
        Ok(child) => child,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return ToolOutcome::Failed(format!("the command {program:?} was not found"));
        }
        Err(e) => {
            return ToolOutcome::Failed(format!("the command {program:?} did not start: {e}"));
        }
    };
    let pid = child.id();
    let mut stdin = child.stdin.take().expect("stdin is piped");
    let input = format!("{arguments}\n");
    let finished = async move {
        // A tool that does not read its arguments closes its stdin: not an error.
        let _ = stdin.write_all(input.as_bytes()).await;
        drop(stdin);
        child.wait_with_output().await
    };
    tokio::pin!(finished);
    // Declared after `finished`, so dropped before it: the group is killed while its leader is
    // not yet reaped (its process id cannot have been reused).
    let group = KillGroupOnDrop(pid);
    let output = tokio::select! {
        output = &mut finished => output,
        () = tokio::time::sleep(timeout) => return ToolOutcome::TimedOut { after: timeout },
        () = cancel.cancelled() => return ToolOutcome::Cancelled,
    };
    group.disarm();
    match output {
        Ok(output) => judge(program, output),
        Err(e) => ToolOutcome::Failed(format!("reading the output of {program:?} failed: {e}")),
    }
}

/// The outcome of a command that exited.
fn judge(program: &str, output: std::process::Output) -> ToolOutcome {
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
        let tail = lines[lines.len().saturating_sub(STDERR_LINES)..].join(" / ");
        let status = match output.status.code() {
            Some(code) => format!("exited with status {code}"),
            None => "was killed by a signal".to_owned(),
        };
        return ToolOutcome::Failed(match tail.is_empty() {
            true => format!("the command {program:?} {status}"),
            false => format!("the command {program:?} {status}: {tail}"),
        });
    }
    let mut stdout = output.stdout;
    let cut = stdout.len() > MAX_OUTPUT_BYTES;
    stdout.truncate(MAX_OUTPUT_BYTES);
    let text = match String::from_utf8(stdout) {
        Ok(text) => text,
        // The cut may fall inside a character: keep the whole ones before it.
        Err(e) if cut && e.utf8_error().error_len().is_none() => {
            let valid = e.utf8_error().valid_up_to();
            let mut bytes = e.into_bytes();
            bytes.truncate(valid);
            String::from_utf8(bytes).expect("cut at the last whole character")
        }
        Err(e) => {
            return ToolOutcome::Failed(format!(
                "the command {program:?} printed something that is not text (invalid UTF-8 at \
                 byte {})",
                e.utf8_error().valid_up_to()
            ));
        }
    };
    if text
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        return ToolOutcome::Failed(format!(
            "the command {program:?} printed control characters, not text"
        ));
    }
    let text = text.trim().to_owned();
    ToolOutcome::Ok(match cut {
        true => format!("{text} [answer cut at {MAX_OUTPUT_BYTES} bytes]"),
        false => text,
    })
}

/// Kills a process group when dropped, unless disarmed after the process exited by itself.
struct KillGroupOnDrop(Option<u32>);

impl KillGroupOnDrop {
    fn disarm(mut self) {
        self.0 = None;
    }
}

impl Drop for KillGroupOnDrop {
    fn drop(&mut self) {
        if let Some(pid) = self.0.and_then(|p| i32::try_from(p).ok()) {
            // SAFETY: kill(2) takes plain integers; -pid names the group the child leads
            // (process_group(0) made it its own group), so nothing outside the tool is signalled.
            unsafe {
                libc::kill(-pid, libc::SIGKILL);
            }
        }
    }
}

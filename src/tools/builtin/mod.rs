//! The tools every duplex agent has, without configuration: the date and time, arithmetic and
//! timers. They run in the process, at once; their outcomes are words like any tool's.

pub mod arithmetic;
pub mod clock;
pub mod timer;

use std::time::{Duration, SystemTime};

use serde_json::{Value, json};

use self::timer::{MAX_TIMER, TimerBook, duration_words};
use super::outcome::ToolOutcome;

/// One built-in tool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Builtin {
    /// `get_date_time`: the local date and time.
    DateTime,
    /// `calculate`: the value of an arithmetic expression.
    Calculate,
    /// `set_timer`: a timer that is said aloud when due.
    SetTimer,
}

impl Builtin {
    /// Every built-in, in the order they are listed.
    pub const ALL: [Builtin; 3] = [Builtin::DateTime, Builtin::Calculate, Builtin::SetTimer];

    /// The name the model calls it by.
    pub fn name(self) -> &'static str {
        match self {
            Self::DateTime => "get_date_time",
            Self::Calculate => "calculate",
            Self::SetTimer => "set_timer",
        }
    }

    /// What it does, for the model.
    pub fn description(self) -> &'static str {
        match self {
            Self::DateTime => "The current local date, day of the week and time.",
            Self::Calculate => {
                "Computes an arithmetic expression exactly: + - * / ^ and parentheses, decimals."
            }
            Self::SetTimer => {
                "Sets a timer; the user is told aloud when it is due. Give minutes, seconds or both."
            }
        }
    }

    /// The JSON Schema of its arguments.
    pub fn parameters(self) -> Value {
        match self {
            Self::DateTime => json!({ "type": "object", "properties": {} }),
            Self::Calculate => json!({
                "type": "object",
                "properties": {
                    "expression": {
                        "type": "string",
                        "description": "The arithmetic in digits and symbols, e.g. (12.5 + 3) * 4"
                    }
                },
                "required": ["expression"]
            }),
            Self::SetTimer => json!({
                "type": "object",
                "properties": {
                    "minutes": { "type": "number" },
                    "seconds": { "type": "number" },
                    "label": { "type": "string", "description": "What the timer is for" }
                }
            }),
        }
    }

    /// Runs it with checked `arguments` at `now`; timers go into `timers`.
    pub fn run(self, arguments: &Value, now: SystemTime, timers: &TimerBook) -> ToolOutcome {
        match self {
            Self::DateTime => match clock::local_time(now) {
                Some(time) => ToolOutcome::Ok(clock::describe(&time)),
                None => ToolOutcome::Failed("the system clock cannot be read as a date".into()),
            },
            Self::Calculate => {
                let expression = arguments["expression"].as_str().unwrap_or_default();
                match arithmetic::evaluate(expression) {
                    Ok(value) => ToolOutcome::Ok(arithmetic::format_number(value)),
                    Err(e) => ToolOutcome::Failed(e.to_string()),
                }
            }
            Self::SetTimer => set_timer(arguments, now, timers),
        }
    }
}

fn set_timer(arguments: &Value, now: SystemTime, timers: &TimerBook) -> ToolOutcome {
    let minutes = arguments["minutes"].as_f64().unwrap_or(0.0);
    let seconds = arguments["seconds"].as_f64().unwrap_or(0.0);
    let total = minutes * 60.0 + seconds;
    if total.is_nan() || total < 1.0 {
        return ToolOutcome::Failed("a timer needs a duration of at least one second".into());
    }
    let duration = Duration::from_secs(total.round() as u64);
    if duration > MAX_TIMER {
        return ToolOutcome::Failed(format!(
            "a timer can be at most {}",
            duration_words(MAX_TIMER)
        ));
    }
    let label = arguments["label"].as_str().unwrap_or_default();
    let timer = timers.set(label, duration, now);
    let what = match timer.label.as_str() {
        "" => "a timer".to_owned(),
        label => format!("a timer for {label}"),
    };
    ToolOutcome::Ok(format!("Set {what} of {}.", duration_words(duration)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_builtin_answers_in_words() {
        let timers = TimerBook::default();
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_796_676_660);
        let run = |b: Builtin, args: Value| b.run(&args, now, &timers);
        assert_eq!(
            run(Builtin::Calculate, json!({ "expression": "17.5 * 4" })),
            ToolOutcome::Ok("70".into())
        );
        assert_eq!(
            run(Builtin::Calculate, json!({ "expression": "1/0" })),
            ToolOutcome::Failed("division by zero".into())
        );
        assert_eq!(
            run(
                Builtin::SetTimer,
                json!({ "minutes": 2.5, "label": "the tea" })
            ),
            ToolOutcome::Ok("Set a timer for the tea of 2 minutes 30 seconds.".into())
        );
        assert_eq!(timers.pending()[0].due, now + Duration::from_secs(150));
        assert!(!run(Builtin::SetTimer, json!({})).is_ok());
        assert!(!run(Builtin::SetTimer, json!({ "minutes": 100_000 })).is_ok());
        let ToolOutcome::Ok(date) = run(Builtin::DateTime, json!({})) else {
            panic!("no date");
        };
        assert!(date.contains("2026") && date.contains("(UTC"), "{date}");
    }
}

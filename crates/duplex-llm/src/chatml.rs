//! The ChatML prompt format used by SmolLM2 (and Qwen and others), rendered message by message.
//!
//! `<|im_start|>{role}\n{content}<|im_end|>\n` per message, then `<|im_start|>assistant\n` to ask
//! for a reply. This matches the template embedded in SmolLM2-135M-Instruct's GGUF. Each message
//! is rendered on its own so the engine can compare the conversation with its KV cache one
//! message at a time.

use duplex_llm_protocol::WireMessage;

/// Opens a message; the role and a newline follow.
pub const IM_START: &str = "<|im_start|>";
/// Closes a message; a newline follows.
pub const IM_END: &str = "<|im_end|>";
/// What follows the content of a finished message.
pub const TRAILER: &str = "<|im_end|>\n";
/// The prompt that asks the model for the assistant's reply.
pub const ASSISTANT_HEADER: &str = "<|im_start|>assistant\n";

/// The header of a message with this role.
pub fn header(role: &str) -> String {
    format!("{IM_START}{role}\n")
}

/// The full text of a message as the model sees it.
pub fn render(message: &WireMessage) -> String {
    format!("{}{}{TRAILER}", header(&message.role), message.content)
}

/// Whether a model's embedded chat template is ChatML (the only format the worker renders).
pub fn is_chatml(template: &str) -> bool {
    template.contains(IM_START) && template.contains(IM_END)
}

/// Roles the worker accepts.
pub fn valid_role(role: &str) -> bool {
    matches!(role, "system" | "user" | "assistant")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_chatml() {
        let m = WireMessage {
            role: "user".into(),
            content: "Hi".into(),
        };
        assert_eq!(render(&m), "<|im_start|>user\nHi<|im_end|>\n");
        assert!(render(&m).starts_with(&header("user")));
    }
}

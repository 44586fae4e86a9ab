//! Markdown, list markers and emoji removed from text an LLM wrote, before it is spoken.
//!
//! Line by line: fences, rules and table separators go; headers, quotes, bullets and numbered
//! list markers lose their marker; table cells are read as a list. Inline: links keep their text,
//! emphasis and code markers go, emoji go. Each remaining line that does not end in punctuation
//! gets a period, so list items and headers are spoken as sentences of their own.

/// Removes markup from `text`, returning plain prose on one line.
pub fn strip_markup(text: &str) -> String {
    let mut lines: Vec<String> = Vec::new();
    for raw in text.lines() {
        let Some(line) = strip_line(raw) else {
            continue;
        };
        let line = strip_inline(&line);
        let line = collapse_spaces(&line);
        if line.chars().any(char::is_alphanumeric) {
            lines.push(line);
        }
    }
    let last = lines.len().saturating_sub(1);
    let mut out = String::new();
    for (i, line) in lines.iter().enumerate() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(line);
        // A line break ends a sentence unless the line already ends with punctuation; the last
        // line keeps what it has (a streamed chunk may end mid-sentence).
        if i != last && !line.ends_with(['.', '!', '?', ',', ';', ':']) {
            out.push('.');
        }
    }
    out
}

/// Handles the block-level syntax of one line; `None` drops the line.
fn strip_line(raw: &str) -> Option<String> {
    let mut line = raw.trim();
    if line.starts_with("```") || line.starts_with("~~~") {
        return None;
    }
    if is_rule(line) {
        return None;
    }
    if line.starts_with('|') || (line.contains(" | ") && line.ends_with('|')) {
        return table_row(line);
    }
    // Block quotes, possibly nested.
    while let Some(rest) = line.strip_prefix('>') {
        line = rest.trim_start();
    }
    // Headers.
    let hashes = line.chars().take_while(|&c| c == '#').count();
    if (1..=6).contains(&hashes) && line[hashes..].starts_with(' ') {
        line = line[hashes..].trim_start();
    }
    line = strip_list_marker(line);
    // Task list boxes.
    for b in ["[ ] ", "[x] ", "[X] "] {
        if let Some(rest) = line.strip_prefix(b) {
            line = rest;
        }
    }
    Some(line.to_owned())
}

/// Whether the line is a horizontal rule (`---`, `***`, `___`).
fn is_rule(line: &str) -> bool {
    let chars: Vec<char> = line.chars().filter(|c| !c.is_whitespace()).collect();
    chars.len() >= 3
        && ['-', '*', '_']
            .iter()
            .any(|&m| chars.iter().all(|&c| c == m))
}

/// Removes a bullet (`-`, `*`, `+`, `•`) or number (`1.`, `2)`) marker at the start of a line.
fn strip_list_marker(line: &str) -> &str {
    for bullet in ["- ", "* ", "+ ", "• ", "· "] {
        if let Some(rest) = line.strip_prefix(bullet) {
            return rest.trim_start();
        }
    }
    let digits = line.bytes().take_while(u8::is_ascii_digit).count();
    if (1..=3).contains(&digits) {
        let rest = &line[digits..];
        if let Some(rest) = rest.strip_prefix(". ").or_else(|| rest.strip_prefix(") ")) {
            return rest.trim_start();
        }
    }
    line
}

/// Reads a table row as a comma-separated list; separator rows are dropped.
fn table_row(line: &str) -> Option<String> {
    let cells: Vec<&str> = line
        .trim_matches('|')
        .split('|')
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .collect();
    if cells
        .iter()
        .all(|c| c.chars().all(|ch| matches!(ch, '-' | ':' | ' ')))
    {
        return None;
    }
    Some(cells.join(", "))
}

/// Removes inline markup: links, images, emphasis, code marks, emoji.
fn strip_inline(line: &str) -> String {
    let chars: Vec<char> = line.chars().collect();
    let mut out = String::with_capacity(line.len());
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        // [text](url) and ![alt](url): keep the text.
        if c == '[' || (c == '!' && chars.get(i + 1) == Some(&'[')) {
            let open = if c == '!' { i + 1 } else { i };
            if let Some((text_end, link_end)) = link_at(&chars, open) {
                out.extend(&chars[open + 1..text_end]);
                i = link_end + 1;
                continue;
            }
        }
        if c == '~' && chars.get(i + 1) == Some(&'~') {
            i += 2;
            continue;
        }
        match c {
            '*' | '`' => {}
            '_' => {
                let prev = i.checked_sub(1).map(|j| chars[j]);
                let next = chars.get(i + 1).copied();
                let inside_word = prev.is_some_and(char::is_alphanumeric)
                    && next.is_some_and(char::is_alphanumeric);
                if inside_word {
                    out.push(' ');
                }
            }
            c if is_emoji(c) => {}
            c => out.push(c),
        }
        i += 1;
    }
    out
}

/// Finds `[text](url)` starting at `open` (the `[`): the index of `]` and of `)`.
fn link_at(chars: &[char], open: usize) -> Option<(usize, usize)> {
    let close = open + chars[open..].iter().position(|&c| c == ']')?;
    if chars.get(close + 1) != Some(&'(') {
        return None;
    }
    let end = close + 1 + chars[close + 1..].iter().position(|&c| c == ')')?;
    Some((close, end))
}

/// Whether `c` is an emoji, pictograph or one of their joiners and modifiers.
pub fn is_emoji(c: char) -> bool {
    matches!(u32::from(c),
        0x1F000..=0x1FAFF   // pictographs, emoticons, transport, flags, supplemental symbols
        | 0x2600..=0x27BF   // miscellaneous symbols and dingbats
        | 0x2B00..=0x2BFF   // arrows and stars
        | 0x2190..=0x21FF   // arrows
        | 0x2300..=0x23FF   // technical symbols (watch, hourglass)
        | 0xFE00..=0xFE0F   // variation selectors
        | 0x200D            // zero-width joiner
        | 0x20E3            // combining keycap
        | 0xE0020..=0xE007F // tag characters
    )
}

/// Collapses runs of whitespace to one space and trims.
fn collapse_spaces(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emphasis_and_code() {
        assert_eq!(
            strip_markup("This is **very** _important_ and `code`."),
            "This is very important and code."
        );
        assert_eq!(strip_markup("snake_case ~~gone~~"), "snake case gone");
    }

    #[test]
    fn lists_and_headers() {
        let text = "# Tips\n\n1. Drink water\n2. Sleep well.\n- Walk daily\n* Read";
        assert_eq!(
            strip_markup(text),
            "Tips. Drink water. Sleep well. Walk daily. Read"
        );
    }

    #[test]
    fn links_tables_rules_quotes() {
        assert_eq!(
            strip_markup("See [the docs](https://x.org) now"),
            "See the docs now"
        );
        assert_eq!(
            strip_markup("| a | b |\n|---|---|\n| 1 | 2 |"),
            "a, b. 1, 2"
        );
        assert_eq!(strip_markup("one\n---\n> two"), "one. two");
        assert_eq!(strip_markup("```rust\nlet x\n```"), "let x");
    }

    #[test]
    fn emoji_go() {
        assert_eq!(strip_markup("Great job! 🎉👍🏽"), "Great job!");
        assert_eq!(strip_markup("I ❤️ Rust"), "I Rust");
        assert_eq!(strip_markup("🙂"), "");
    }
}

//! Numbers in context, read as words: money, clock times, percentages, ordinals, degrees,
//! ranges, fractions, decades, numbers with units, signed numbers, URLs and e-mail addresses.
//!
//! Each reader looks at one word's core (its quotes and punctuation already split off by
//! `normalize.rs`) and, where the reading depends on it, at the words that follow ("$3
//! million", "3:30 p.m.").

use super::numbers::{cardinal, cardinal_str, decimal, ordinal, reads_as_year, year};
use super::words::{capitalised, kept, plain_word, split_word};

/// Units written right after a number ("5km"), lower case: (unit, singular, plural).
const UNITS: &[(&str, &str, &str)] = &[
    ("km", "kilometer", "kilometers"),
    ("kg", "kilogram", "kilograms"),
    ("cm", "centimeter", "centimeters"),
    ("mm", "millimeter", "millimeters"),
    ("ml", "milliliter", "milliliters"),
    ("mg", "milligram", "milligrams"),
    ("lbs", "pound", "pounds"),
    ("lb", "pound", "pounds"),
    ("mph", "mile per hour", "miles per hour"),
    ("kph", "kilometer per hour", "kilometers per hour"),
    ("km/h", "kilometer per hour", "kilometers per hour"),
    ("hz", "hertz", "hertz"),
    ("khz", "kilohertz", "kilohertz"),
    ("mhz", "megahertz", "megahertz"),
    ("ghz", "gigahertz", "gigahertz"),
    ("kb", "kilobyte", "kilobytes"),
    ("mb", "megabyte", "megabytes"),
    ("gb", "gigabyte", "gigabytes"),
    ("tb", "terabyte", "terabytes"),
    ("ms", "millisecond", "milliseconds"),
    ("min", "minute", "minutes"),
    ("h", "hour", "hours"),
    ("x", "times", "times"),
];

/// Words that scale an amount of money ("$3 million"), and their one-letter forms.
const SCALES: &[(&str, &str)] = &[
    ("thousand", "thousand"),
    ("million", "million"),
    ("billion", "billion"),
    ("trillion", "trillion"),
    ("k", "thousand"),
    ("m", "million"),
    ("bn", "billion"),
    ("b", "billion"),
];

/// Currency symbols: (symbol, unit, units, subunit, subunits).
const CURRENCIES: &[(char, &str, &str, &str, &str)] = &[
    ('$', "dollar", "dollars", "cent", "cents"),
    ('€', "euro", "euros", "cent", "cents"),
    ('£', "pound", "pounds", "penny", "pence"),
    ('¥', "yen", "yen", "sen", "sen"),
];

/// Reads a word core that is a number, time, amount, URL or similar. Returns the words, the
/// punctuation to put after them when more than one word was used, and the words used.
pub(super) fn read_core(core: &str, rest: &[&str]) -> Option<(String, String, usize)> {
    if let Some(s) = read_address(core) {
        return Some((s, String::new(), 1));
    }
    if let Some(r) = read_currency(core, rest) {
        return Some(r);
    }
    if let Some(r) = read_time(core, rest) {
        return Some(r);
    }
    if let Some(n) = core.strip_prefix('#')
        && n.bytes().all(|b| b.is_ascii_digit())
        && !n.is_empty()
    {
        return Some((format!("number {}", cardinal_str(n)), String::new(), 1));
    }
    read_number(core).map(|s| (s, String::new(), 1))
}

/// Reads URLs and e-mail addresses: "https://www.example.com/docs" -> "example dot com slash docs".
fn read_address(core: &str) -> Option<String> {
    let is_url = core.contains("://") || core.starts_with("www.");
    let is_email = !is_url
        && core
            .split_once('@')
            .is_some_and(|(user, host)| !user.is_empty() && host.contains('.'));
    if !is_url && !is_email {
        return None;
    }
    let mut s = core;
    if let Some((_, after)) = s.split_once("://") {
        s = after;
    }
    s = s.trim_start_matches("www.").trim_end_matches('/');
    let spoken = s
        .replace('@', " at ")
        .replace('.', " dot ")
        .replace('/', " slash ")
        .replace(['_', '-', '?', '=', '&', '#', ':'], " ");
    Some(spoken.split_whitespace().collect::<Vec<_>>().join(" "))
}

/// A number at the start of a string: integer digits (with thousands commas), fraction digits,
/// and what follows.
struct Number<'a> {
    int: &'a str,
    frac: &'a str,
    rest: &'a str,
}

/// Parses a number at the start of `s` ("1,234.5kg" -> "1,234", "5", "kg").
fn parse_number(s: &str) -> Option<Number<'_>> {
    let b = s.as_bytes();
    let mut i = b.iter().take_while(|c| c.is_ascii_digit()).count();
    let starts_with_point =
        i == 0 && b.first() == Some(&b'.') && b.get(1).is_some_and(u8::is_ascii_digit);
    if i == 0 && !starts_with_point {
        return None;
    }
    // Thousands separators: a comma followed by exactly three digits.
    while i > 0
        && b.get(i) == Some(&b',')
        && b.len() >= i + 4
        && b[i + 1..i + 4].iter().all(u8::is_ascii_digit)
        && !b.get(i + 4).is_some_and(u8::is_ascii_digit)
    {
        i += 4;
    }
    let int = &s[..i];
    let mut frac = "";
    if b.get(i) == Some(&b'.') && b.get(i + 1).is_some_and(u8::is_ascii_digit) {
        let n = b[i + 1..].iter().take_while(|c| c.is_ascii_digit()).count();
        frac = &s[i + 1..i + 1 + n];
        i += 1 + n;
    }
    Some(Number {
        int,
        frac,
        rest: &s[i..],
    })
}

/// Reads a parsed number's value: "3.5" -> "three point five", "1990" -> "nineteen ninety".
fn number_value(n: &Number) -> String {
    if n.frac.is_empty() && reads_as_year(n.int) {
        year(n.int.parse().unwrap_or(0))
    } else {
        decimal(n.int, n.frac)
    }
}

/// Reads money: "$4.50" -> "four dollars and fifty cents", "$3 million" -> "three million
/// dollars", "$5k" -> "five thousand dollars", "20€" -> "twenty euros".
fn read_currency(core: &str, rest: &[&str]) -> Option<(String, String, usize)> {
    let (sign, body) = match core.strip_prefix('-') {
        Some(b) => ("minus ", b),
        None => ("", core),
    };
    let first = body.chars().next()?;
    let last = body.chars().last()?;
    let (currency, amount) = if let Some(c) = CURRENCIES.iter().find(|c| c.0 == first) {
        (c, &body[first.len_utf8()..])
    } else if let Some(c) = CURRENCIES.iter().find(|c| c.0 == last) {
        (c, &body[..body.len() - last.len_utf8()])
    } else {
        return None;
    };
    let &(_, unit, units, sub, subs) = currency;
    let n = parse_number(amount)?;
    let attached = SCALES
        .iter()
        .find(|(k, _)| n.rest.eq_ignore_ascii_case(k))
        .map(|s| s.1);
    if !n.rest.is_empty() && attached.is_none() {
        return None;
    }
    let following = rest.first().and_then(|w| {
        let (_, c, t) = split_word(w);
        SCALES[..4]
            .iter()
            .find(|(k, _)| c.eq_ignore_ascii_case(k))
            .map(|s| (s.1, kept(t)))
    });
    if let Some(scale) = attached {
        let value = decimal(n.int, n.frac);
        return Some((format!("{sign}{value} {scale} {units}"), String::new(), 1));
    }
    if let Some((scale, trail)) = following {
        let value = decimal(n.int, n.frac);
        return Some((format!("{sign}{value} {scale} {units}"), trail, 2));
    }
    let whole = cardinal_str(if n.int.is_empty() { "0" } else { n.int });
    let one = n.int == "1";
    let spoken = if n.frac.is_empty() {
        format!("{whole} {}", if one { unit } else { units })
    } else if n.frac.len() <= 2 {
        let cents: u64 = format!("{:0<2}", n.frac).parse().unwrap_or(0);
        let cents_words = format!(
            "{} {}",
            cardinal(cents),
            if cents == 1 { sub } else { subs }
        );
        let zero_whole = n.int.trim_matches(['0', ',']).is_empty();
        match (zero_whole, cents) {
            (true, _) => cents_words,
            (false, 0) => format!("{whole} {}", if one { unit } else { units }),
            (false, _) => format!(
                "{whole} {} and {cents_words}",
                if one { unit } else { units }
            ),
        }
    } else {
        format!("{} {units}", decimal(n.int, n.frac))
    };
    Some((format!("{sign}{spoken}"), String::new(), 1))
}

/// Reads an "am"/"pm" marker, attached or as a word, as the capitals espeak-ng spells ("PM").
fn am_pm(s: &str) -> Option<&'static str> {
    match s.to_ascii_lowercase().as_str() {
        "am" | "a.m" | "a.m." => Some("AM"),
        "pm" | "p.m" | "p.m." => Some("PM"),
        _ => None,
    }
}

/// Reads a clock time: "3:30" -> "three thirty", "3:05pm" -> "three oh five PM", "12:00" ->
/// "twelve o'clock", "3:30 p.m." (two words) -> "three thirty PM".
fn read_time(core: &str, rest: &[&str]) -> Option<(String, String, usize)> {
    let (hours, after) = core.split_once(':')?;
    let minutes: String = after.chars().take_while(char::is_ascii_digit).collect();
    let suffix = &after[minutes.len()..];
    if hours.is_empty()
        || hours.len() > 2
        || minutes.len() != 2
        || !hours.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let h: u64 = hours.parse().ok()?;
    let m: u64 = minutes.parse().ok()?;
    if h > 24 || m > 59 {
        return None;
    }
    let (marker, trail, used) = if suffix.is_empty() {
        match rest.first() {
            Some(w) => {
                let (_, c, t) = split_word(w);
                // "p.m." loses its own period to the split; the period ends a sentence only at
                // the end of the text or before a capitalised word.
                let with_dot = format!("{c}{}", if t.starts_with('.') { "." } else { "" });
                match am_pm(&with_dot).or_else(|| am_pm(c)) {
                    Some(mk) => {
                        let mut trail = kept(t);
                        if c.contains('.') && !(rest.len() == 1 || capitalised(rest.get(1))) {
                            trail = trail.trim_start_matches('.').to_owned();
                        }
                        (Some(mk), trail, 2)
                    }
                    None => (None, String::new(), 1),
                }
            }
            None => (None, String::new(), 1),
        }
    } else {
        (Some(am_pm(suffix)?), String::new(), 1)
    };
    let minutes_words = match m {
        0 if marker.is_none() => " o'clock".to_owned(),
        0 => String::new(),
        1..=9 => format!(" oh {}", cardinal(m)),
        _ => format!(" {}", cardinal(m)),
    };
    let marker = marker.map(|mk| format!(" {mk}")).unwrap_or_default();
    Some((
        format!("{}{minutes_words}{marker}", cardinal(h)),
        trail,
        used,
    ))
}

/// Reads a word that starts with a number (or a sign and a number): percentages, ordinals,
/// degrees, ranges, fractions, decades, units, plain numbers.
fn read_number(core: &str) -> Option<String> {
    let (prefix, body) = match core.chars().next()? {
        '-' => ("minus ", &core[1..]),
        '+' => ("plus ", &core[1..]),
        '~' => ("about ", &core[1..]),
        _ => ("", core),
    };
    let n = parse_number(body)?;
    let value = number_value(&n);
    let rest = n.rest;
    let lower = rest.to_ascii_lowercase();
    let spoken = if rest.is_empty() {
        value
    } else if rest == "%" {
        format!("{} percent", decimal(n.int, n.frac))
    } else if matches!(lower.as_str(), "st" | "nd" | "rd" | "th") && n.frac.is_empty() {
        ordinal(n.int.replace(',', "").parse().ok()?)
    } else if let Some(scale) = rest.strip_prefix('°') {
        let unit = match scale {
            "C" | "c" => " Celsius",
            "F" | "f" => " Fahrenheit",
            "" => "",
            _ => return None,
        };
        let degrees = if n.int == "1" && n.frac.is_empty() {
            "degree"
        } else {
            "degrees"
        };
        format!("{} {degrees}{unit}", decimal(n.int, n.frac))
    } else if let Some(to) = rest.strip_prefix('-').and_then(parse_number) {
        let to_value = number_value(&to);
        let tail = read_number(to.rest.trim_start_matches(|c: char| c.is_ascii_digit()))
            .unwrap_or_default();
        if !to.rest.is_empty() && tail.is_empty() {
            format!("{value} to {to_value} {}", plain_word(to.rest))
        } else {
            format!("{value} to {to_value}")
        }
    } else if let Some(den) = rest.strip_prefix('/').and_then(parse_number) {
        if !den.rest.is_empty() || !n.frac.is_empty() || !den.frac.is_empty() {
            return None;
        }
        fraction(n.int, den.int)
    } else if lower == "s" && n.frac.is_empty() && n.int.ends_with('0') {
        plural(&value)
    } else if let Some(mk) = am_pm(rest) {
        format!("{value} {mk}")
    } else if let Some((_, one, many)) = UNITS.iter().find(|(k, _, _)| *k == lower) {
        let unit = if n.int == "1" && n.frac.is_empty() {
            one
        } else {
            many
        };
        format!("{} {unit}", decimal(n.int, n.frac))
    } else if rest.chars().all(char::is_alphabetic) {
        format!("{value} {rest}")
    } else {
        return None;
    };
    Some(format!("{prefix}{spoken}"))
}

/// Reads a fraction: 1/2 -> "one half", 3/4 -> "three quarters", 2/3 -> "two thirds",
/// 7/100 -> "seven over one hundred".
fn fraction(num: &str, den: &str) -> String {
    if (num, den) == ("24", "7") {
        return "twenty-four seven".to_owned();
    }
    let n: u64 = num.parse().unwrap_or(0);
    let d: u64 = den.parse().unwrap_or(0);
    let one = n == 1;
    let name = match d {
        2 => Some(if one { "half" } else { "halves" }.to_owned()),
        4 => Some(if one { "quarter" } else { "quarters" }.to_owned()),
        3 | 5..=10 => {
            let o = ordinal(d);
            Some(if one { o } else { format!("{o}s") })
        }
        _ => None,
    };
    match name {
        Some(name) => format!("{} {name}", cardinal(n)),
        None => format!("{} over {}", cardinal_str(num), cardinal_str(den)),
    }
}

/// Makes the last word of a spelled number plural: "nineteen ninety" -> "nineteen nineties".
fn plural(words: &str) -> String {
    match words.strip_suffix('y') {
        Some(stem) => format!("{stem}ies"),
        None if words.ends_with('x') => format!("{words}es"),
        None => format!("{words}s"),
    }
}

#[cfg(test)]
mod tests {
    use super::super::normalize::normalize;

    #[test]
    fn plain_number_forms() {
        assert_eq!(normalize("I have 3 cats."), "I have three cats.");
        assert_eq!(normalize("Pi is 3.14."), "Pi is three point one four.");
        assert_eq!(normalize("It was 1990."), "It was nineteen ninety.");
        assert_eq!(
            normalize("About 1,250 people."),
            "About one thousand two hundred fifty people."
        );
        assert_eq!(normalize("The 21st time"), "The twenty-first time");
        assert_eq!(normalize("Growth was 50%."), "Growth was fifty percent.");
        assert_eq!(normalize("It's -5 outside"), "It's minus five outside");
        assert_eq!(normalize("pages 10-20"), "pages ten to twenty");
        assert_eq!(normalize("add 1/2 cup"), "add one half cup");
        assert_eq!(
            normalize("open 24/7 - really"),
            "open twenty-four seven, really"
        );
        assert_eq!(normalize("in the 1990s"), "in the nineteen nineties");
        assert_eq!(normalize("a 5km run"), "a five kilometers run");
        assert_eq!(normalize("It is 20°C."), "It is twenty degrees Celsius.");
        assert_eq!(normalize("Call #5"), "Call number five");
    }

    #[test]
    fn times_and_money() {
        assert_eq!(normalize("Meet at 3:30."), "Meet at three thirty.");
        assert_eq!(normalize("at 3:05pm"), "at three oh five PM");
        assert_eq!(normalize("at 12:00"), "at twelve o'clock");
        assert_eq!(
            normalize("at 3:30 p.m. Then we eat."),
            "at three thirty PM. Then we eat."
        );
        assert_eq!(normalize("at 9:15 am, then"), "at nine fifteen AM, then");
        assert_eq!(
            normalize("It costs $4.50."),
            "It costs four dollars and fifty cents."
        );
        assert_eq!(normalize("Only $1!"), "Only one dollar!");
        assert_eq!(normalize("just $0.99"), "just ninety-nine cents");
        assert_eq!(
            normalize("raised $3 million."),
            "raised three million dollars."
        );
        assert_eq!(normalize("a $5k budget"), "a five thousand dollars budget");
        assert_eq!(normalize("£20 each"), "twenty pounds each");
    }
}

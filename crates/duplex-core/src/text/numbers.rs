//! Numbers spelled out as English words: cardinals, ordinals, years, decimals, digit strings.
//!
//! Pure functions over digit strings (no parsing of surrounding text; see `normalize.rs`).
//! Values past the trillions are read digit by digit, as a person would read a long code.

/// Words for 0 to 19.
const ONES: [&str; 20] = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
];

/// Words for the tens, indexed by the tens digit (0 and 1 unused).
const TENS: [&str; 10] = [
    "", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety",
];

/// Scale words for groups of three digits, from the lowest.
const SCALES: [&str; 5] = ["", "thousand", "million", "billion", "trillion"];

/// The largest value read as a cardinal; longer digit strings are read digit by digit.
const MAX_CARDINAL: u64 = 999_999_999_999_999;

/// Spells a number below 1000.
fn below_thousand(n: u64, out: &mut Vec<String>) {
    debug_assert!(n < 1000);
    let hundreds = n / 100;
    let rest = n % 100;
    if hundreds > 0 {
        out.push(ONES[hundreds as usize].to_owned());
        out.push("hundred".to_owned());
    }
    if rest > 0 {
        out.push(below_hundred(rest));
    }
}

/// Spells a number below 100 as one word ("forty-two").
fn below_hundred(n: u64) -> String {
    debug_assert!(n < 100);
    if n < 20 {
        ONES[n as usize].to_owned()
    } else if n.is_multiple_of(10) {
        TENS[(n / 10) as usize].to_owned()
    } else {
        format!("{}-{}", TENS[(n / 10) as usize], ONES[(n % 10) as usize])
    }
}

/// Spells a non-negative integer: `1234` -> "one thousand two hundred thirty-four".
pub fn cardinal(n: u64) -> String {
    if n == 0 {
        return ONES[0].to_owned();
    }
    if n > MAX_CARDINAL {
        return digits(&n.to_string());
    }
    let mut groups = Vec::new();
    let mut rest = n;
    while rest > 0 {
        groups.push(rest % 1000);
        rest /= 1000;
    }
    let mut words = Vec::new();
    for (scale, &group) in groups.iter().enumerate().rev() {
        if group == 0 {
            continue;
        }
        below_thousand(group, &mut words);
        if !SCALES[scale].is_empty() {
            words.push(SCALES[scale].to_owned());
        }
    }
    words.join(" ")
}

/// Spells a string of ASCII digits one by one: "407" -> "four zero seven".
pub fn digits(s: &str) -> String {
    s.chars()
        .filter_map(|c| c.to_digit(10))
        .map(|d| ONES[d as usize])
        .collect::<Vec<_>>()
        .join(" ")
}

/// Spells a string of ASCII digits (commas allowed as thousands separators) as a cardinal,
/// or digit by digit when it is too long or has leading zeros ("007").
pub fn cardinal_str(s: &str) -> String {
    let plain: String = s.chars().filter(|c| *c != ',').collect();
    if plain.len() > 1 && plain.starts_with('0') {
        return digits(&plain);
    }
    match plain.parse::<u64>() {
        Ok(n) if n <= MAX_CARDINAL => cardinal(n),
        _ => digits(&plain),
    }
}

/// Turns the last word of a spelled cardinal into its ordinal ("twenty-one" -> "twenty-first").
pub fn ordinal(n: u64) -> String {
    let words = cardinal(n);
    let (head, last) = match words.rfind([' ', '-']) {
        Some(i) => words.split_at(i + 1),
        None => ("", words.as_str()),
    };
    let last = match last {
        "one" => "first".to_owned(),
        "two" => "second".to_owned(),
        "three" => "third".to_owned(),
        "five" => "fifth".to_owned(),
        "eight" => "eighth".to_owned(),
        "nine" => "ninth".to_owned(),
        "twelve" => "twelfth".to_owned(),
        w if w.ends_with('y') => format!("{}ieth", &w[..w.len() - 1]),
        w => format!("{w}th"),
    };
    format!("{head}{last}")
}

/// Reads a four-digit year the way people say it: 1990 -> "nineteen ninety", 1905 -> "nineteen
/// oh five", 2000 -> "two thousand", 2007 -> "two thousand seven", 2024 -> "twenty twenty-four".
pub fn year(n: u64) -> String {
    if !(1000..10_000).contains(&n) {
        return cardinal(n);
    }
    let high = n / 100;
    let low = n % 100;
    if n.is_multiple_of(1000) || (2000..2010).contains(&n) {
        return cardinal(n);
    }
    match low {
        0 => format!("{} hundred", below_hundred(high)),
        1..=9 => format!("{} oh {}", below_hundred(high), ONES[low as usize]),
        _ => format!("{} {}", below_hundred(high), below_hundred(low)),
    }
}

/// Whether a bare four-digit number is read as a year (1100 to 2099, not a round thousand).
pub fn reads_as_year(s: &str) -> bool {
    s.len() == 4
        && s.bytes().all(|b| b.is_ascii_digit())
        && s.parse::<u64>()
            .is_ok_and(|n| (1100..2100).contains(&n) && !n.is_multiple_of(1000))
}

/// Spells a decimal number given as its integer and fraction digit strings:
/// ("3", "14") -> "three point one four".
pub fn decimal(int_part: &str, frac_part: &str) -> String {
    let int_words = if int_part.is_empty() {
        ONES[0].to_owned()
    } else {
        cardinal_str(int_part)
    };
    if frac_part.is_empty() {
        int_words
    } else {
        format!("{int_words} point {}", digits(frac_part))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cardinals() {
        assert_eq!(cardinal(0), "zero");
        assert_eq!(cardinal(7), "seven");
        assert_eq!(cardinal(42), "forty-two");
        assert_eq!(cardinal(100), "one hundred");
        assert_eq!(cardinal(1234), "one thousand two hundred thirty-four");
        assert_eq!(cardinal(3_000_005), "three million five");
        assert_eq!(cardinal_str("1,250"), "one thousand two hundred fifty");
        assert_eq!(cardinal_str("007"), "zero zero seven");
        assert_eq!(
            cardinal_str("12345678901234567890"),
            "one two three four five six seven eight nine zero one two three four five six seven eight nine zero"
        );
    }

    #[test]
    fn ordinals() {
        assert_eq!(ordinal(1), "first");
        assert_eq!(ordinal(2), "second");
        assert_eq!(ordinal(3), "third");
        assert_eq!(ordinal(12), "twelfth");
        assert_eq!(ordinal(20), "twentieth");
        assert_eq!(ordinal(21), "twenty-first");
        assert_eq!(ordinal(100), "one hundredth");
        assert_eq!(ordinal(1005), "one thousand fifth");
    }

    #[test]
    fn years_and_decimals() {
        assert_eq!(year(1990), "nineteen ninety");
        assert_eq!(year(1905), "nineteen oh five");
        assert_eq!(year(1900), "nineteen hundred");
        assert_eq!(year(2000), "two thousand");
        assert_eq!(year(2007), "two thousand seven");
        assert_eq!(year(2024), "twenty twenty-four");
        assert!(reads_as_year("1984"));
        assert!(!reads_as_year("3000"));
        assert!(!reads_as_year("2000"));
        assert_eq!(decimal("3", "14"), "three point one four");
        assert_eq!(decimal("", "5"), "zero point five");
    }
}

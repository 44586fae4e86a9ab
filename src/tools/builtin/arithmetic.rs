//! The `calculate` built-in: a safe evaluator of arithmetic written the way people say it to a
//! model: `+ - * / ^`, parentheses, decimals, unary minus (also `×`, `÷`, `x` between numbers
//! and `,` as a thousands separator). It parses numbers and operators only: nothing is executed.
//!
//! Precedence, loosest first: `+ -`, then `* /`, then unary `-`, then `^` (right-associative,
//! so `2^3^2` is 512 and `-2^2` is -4).

/// Why an expression has no value, in words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ArithmeticError {
    /// Not an arithmetic expression, with where it stops making sense.
    #[error("cannot read {expression:?} as arithmetic: {problem}")]
    Syntax {
        /// The expression as given.
        expression: String,
        /// What is wrong.
        problem: String,
    },
    /// A division by zero.
    #[error("division by zero")]
    DivisionByZero,
    /// The result is too big (or not a number).
    #[error("the result is too big to write")]
    Overflow,
}

/// The value of `expression`.
pub fn evaluate(expression: &str) -> Result<f64, ArithmeticError> {
    let tokens = tokenize(expression).map_err(|problem| syntax(expression, problem))?;
    let mut parser = Parser { tokens, at: 0 };
    let value = parser.sum().map_err(|e| match e {
        Fault::Syntax(problem) => syntax(expression, problem),
        Fault::DivisionByZero => ArithmeticError::DivisionByZero,
    })?;
    if parser.at != parser.tokens.len() {
        return Err(syntax(
            expression,
            format!("unexpected {}", parser.tokens[parser.at]),
        ));
    }
    if !value.is_finite() {
        return Err(ArithmeticError::Overflow);
    }
    Ok(value)
}

/// A value written for speech: no exponent, at most 10 decimals, no trailing zeros.
pub fn format_number(value: f64) -> String {
    let text = format!("{value:.10}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    match text {
        "-0" => "0".to_owned(),
        t => t.to_owned(),
    }
}

fn syntax(expression: &str, problem: String) -> ArithmeticError {
    ArithmeticError::Syntax {
        expression: expression.to_owned(),
        problem,
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Token {
    Number(f64),
    Operator(char),
    Open,
    Close,
}

impl std::fmt::Display for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Number(x) => write!(f, "the number {x}"),
            Self::Operator(c) => write!(f, "{c:?}"),
            Self::Open => write!(f, "\"(\""),
            Self::Close => write!(f, "\")\""),
        }
    }
}

fn tokenize(text: &str) -> Result<Vec<Token>, String> {
    let mut tokens = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(&c) = chars.peek() {
        match c {
            c if c.is_whitespace() => {
                chars.next();
            }
            '0'..='9' | '.' => {
                let mut digits = String::new();
                while let Some(&d) = chars.peek() {
                    match d {
                        '0'..='9' | '.' => digits.push(d),
                        // 1,000,000: a comma between digits separates thousands.
                        ',' => {}
                        _ => break,
                    }
                    chars.next();
                }
                let value: f64 = digits
                    .parse()
                    .map_err(|_| format!("{digits:?} is not a number"))?;
                tokens.push(Token::Number(value));
            }
            '+' | '-' | '*' | '/' | '^' => {
                tokens.push(Token::Operator(c));
                chars.next();
            }
            '×' | 'x' | 'X' => {
                tokens.push(Token::Operator('*'));
                chars.next();
            }
            '÷' => {
                tokens.push(Token::Operator('/'));
                chars.next();
            }
            '(' => {
                tokens.push(Token::Open);
                chars.next();
            }
            ')' => {
                tokens.push(Token::Close);
                chars.next();
            }
            other => return Err(format!("{other:?} is not part of arithmetic")),
        }
    }
    Ok(tokens)
}

enum Fault {
    Syntax(String),
    DivisionByZero,
}

/// Deepest nesting of parentheses and unary signs (a bound on recursion).
const MAX_DEPTH: usize = 64;

struct Parser {
    tokens: Vec<Token>,
    at: usize,
}

impl Parser {
    fn peek(&self) -> Option<Token> {
        self.tokens.get(self.at).copied()
    }

    fn next_operator(&mut self, operators: &[char]) -> Option<char> {
        match self.peek() {
            Some(Token::Operator(c)) if operators.contains(&c) => {
                self.at += 1;
                Some(c)
            }
            _ => None,
        }
    }

    fn sum(&mut self) -> Result<f64, Fault> {
        self.sum_at(0)
    }

    fn sum_at(&mut self, depth: usize) -> Result<f64, Fault> {
        let mut value = self.product(depth)?;
        while let Some(op) = self.next_operator(&['+', '-']) {
            let right = self.product(depth)?;
            value = if op == '+' {
                value + right
            } else {
                value - right
            };
        }
        Ok(value)
    }

    fn product(&mut self, depth: usize) -> Result<f64, Fault> {
        let mut value = self.signed(depth)?;
        while let Some(op) = self.next_operator(&['*', '/']) {
            let right = self.signed(depth)?;
            value = match op {
                '*' => value * right,
                _ if right == 0.0 => return Err(Fault::DivisionByZero),
                _ => value / right,
            };
        }
        Ok(value)
    }

    fn signed(&mut self, depth: usize) -> Result<f64, Fault> {
        if depth > MAX_DEPTH {
            return Err(Fault::Syntax("nested too deeply".into()));
        }
        match self.next_operator(&['-', '+']) {
            Some('-') => Ok(-self.signed(depth + 1)?),
            Some(_) => self.signed(depth + 1),
            None => self.power(depth),
        }
    }

    fn power(&mut self, depth: usize) -> Result<f64, Fault> {
        let base = self.primary(depth)?;
        if self.next_operator(&['^']).is_some() {
            let exponent = self.signed(depth + 1)?;
            return Ok(base.powf(exponent));
        }
        Ok(base)
    }

    fn primary(&mut self, depth: usize) -> Result<f64, Fault> {
        let token = self.peek();
        self.at += 1;
        match token {
            Some(Token::Number(x)) => Ok(x),
            Some(Token::Open) => {
                let value = self.sum_at(depth + 1)?;
                match self.peek() {
                    Some(Token::Close) => {
                        self.at += 1;
                        Ok(value)
                    }
                    _ => Err(Fault::Syntax("a \"(\" is never closed".into())),
                }
            }
            Some(other) => Err(Fault::Syntax(format!("unexpected {other}"))),
            None => Err(Fault::Syntax("it ends where a number should be".into())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(text: &str) -> String {
        format_number(evaluate(text).unwrap())
    }

    #[test]
    fn precedence_parentheses_and_decimals() {
        assert_eq!(value("2 + 3 * 4"), "14");
        assert_eq!(value("(2 + 3) * 4"), "20");
        assert_eq!(value("2^3^2"), "512");
        assert_eq!(value("-2^2"), "-4");
        assert_eq!(value("2^-1"), "0.5");
        assert_eq!(value("10 / 4"), "2.5");
        assert_eq!(value("0.1 + 0.2"), "0.3");
        assert_eq!(value("1,250 × 3"), "3750");
        assert_eq!(value("12 x 12 ÷ 4"), "36");
        assert_eq!(value("--3"), "3");
        assert_eq!(value("15 * 0.15"), "2.25");
    }

    #[test]
    fn what_is_not_arithmetic_is_refused_in_words() {
        assert_eq!(
            evaluate("1 / (2 - 2)"),
            Err(ArithmeticError::DivisionByZero)
        );
        assert_eq!(evaluate("10^400"), Err(ArithmeticError::Overflow));
        let refused = |text: &str| evaluate(text).unwrap_err().to_string();
        assert_eq!(
            refused("import os"),
            "cannot read \"import os\" as arithmetic: 'i' is not part of arithmetic"
        );
        assert_eq!(
            refused("(1 + 2"),
            "cannot read \"(1 + 2\" as arithmetic: a \"(\" is never closed"
        );
        assert_eq!(
            refused("3 +"),
            "cannot read \"3 +\" as arithmetic: it ends where a number should be"
        );
        assert_eq!(
            refused("1.2.3"),
            "cannot read \"1.2.3\" as arithmetic: \"1.2.3\" is not a number"
        );
        assert_eq!(
            refused("2 3"),
            "cannot read \"2 3\" as arithmetic: unexpected the number 3"
        );
        assert!(refused(&"(".repeat(200)).contains("nested too deeply"));
    }
}

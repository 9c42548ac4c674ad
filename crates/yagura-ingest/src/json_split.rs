//! Splitting a stream of JSON values (back-to-back objects, or the elements of one array) into
//! one byte buffer per value, so that a damaged value is reported and skipped and the values
//! after it are still read. Memory: one value at a time, whatever the size of the stream.
//!
//! The splitter follows strings and nesting only; serde parses each value. Where the structure
//! itself is broken (a value left unclosed, a string cut off), it resynchronises on the first `{`
//! that cannot continue the current value: inside a valid value an object only opens after `:` in
//! an object, or after `[` or `,` in an array, so a `{` anywhere else starts the next value. A raw
//! line break cannot be inside a JSON string, so it ends a string that was cut off.

use std::io::BufRead;

/// Where the values are.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Layout {
    /// Values one after another (pretty-printed objects).
    Values,
    /// The elements of one array (the stream starts with `[`).
    Array,
}

/// What the splitter found.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Piece<'a> {
    /// The text of value number `number` (from 1), which starts on line `line`. It may be
    /// damaged: parsing it tells.
    Value {
        number: u64,
        line: u64,
        text: &'a [u8],
    },
    /// Damage that is not a value (an unclosed array, text after it), found on line `line`;
    /// `number` is the number the next value would have.
    Damage {
        number: u64,
        line: u64,
        reason: String,
    },
}

/// Splits `reader`, whose first line is line `first_line`, into values, in order.
pub(crate) fn split<R: BufRead>(
    mut reader: R,
    layout: Layout,
    first_line: u64,
    on_piece: &mut dyn FnMut(Piece<'_>),
) -> std::io::Result<()> {
    let mut s = Splitter::new(layout, first_line);
    loop {
        let chunk = reader.fill_buf()?;
        if chunk.is_empty() {
            break;
        }
        for &b in chunk {
            s.byte(b, on_piece);
            if b == b'\n' {
                s.line += 1;
            }
        }
        let n = chunk.len();
        reader.consume(n);
        if s.state == State::Closed {
            // Only whitespace may follow the array; the first other byte is reported.
            if s.trailing {
                return Ok(());
            }
        }
    }
    s.finish(on_piece);
    Ok(())
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum State {
    /// Before the `[` of the array.
    Open,
    /// Between or inside values.
    Values,
    /// After the `]` of the array.
    Closed,
}

struct Splitter {
    layout: Layout,
    state: State,
    /// The brackets open in the value being read (empty between values).
    open: Vec<u8>,
    in_string: bool,
    escaped: bool,
    /// A bare scalar (number, literal, stray text), ended by a line break or a delimiter.
    scalar: bool,
    /// The last byte outside strings and whitespace (`"` after a string).
    last: u8,
    /// The value being read; empty between values.
    buf: Vec<u8>,
    start_line: u64,
    /// Values started so far.
    number: u64,
    line: u64,
    /// Text after the array was reported.
    trailing: bool,
}

impl Splitter {
    fn new(layout: Layout, first_line: u64) -> Self {
        Self {
            layout,
            state: match layout {
                Layout::Values => State::Values,
                Layout::Array => State::Open,
            },
            open: Vec::new(),
            in_string: false,
            escaped: false,
            scalar: false,
            last: b',',
            buf: Vec::new(),
            start_line: first_line,
            number: 0,
            line: first_line,
            trailing: false,
        }
    }

    fn byte(&mut self, b: u8, on_piece: &mut dyn FnMut(Piece<'_>)) {
        if self.buf.is_empty() {
            self.between_values(b, on_piece);
        } else if self.in_string {
            self.in_string_byte(b, on_piece);
        } else if self.scalar {
            self.scalar_byte(b, on_piece);
        } else {
            self.structure_byte(b, on_piece);
        }
    }

    fn in_string_byte(&mut self, b: u8, on_piece: &mut dyn FnMut(Piece<'_>)) {
        let closes = b == b'\n' || (b == b'"' && !self.escaped);
        self.escaped = !self.escaped && b == b'\\';
        self.buf.push(b);
        if closes {
            self.in_string = false;
            self.last = b'"';
            if self.open.is_empty() {
                self.emit(on_piece);
            }
        }
    }

    fn scalar_byte(&mut self, b: u8, on_piece: &mut dyn FnMut(Piece<'_>)) {
        if matches!(b, b'\n' | b'\r' | b',' | b']' | b'{' | b'[' | b'"') {
            self.emit(on_piece);
            self.between_values(b, on_piece);
        } else {
            self.buf.push(b);
        }
    }

    fn structure_byte(&mut self, b: u8, on_piece: &mut dyn FnMut(Piece<'_>)) {
        match b {
            b'{' if !self.object_may_open() => {
                // This cannot continue the value: it is damaged, and the next one starts here.
                self.emit(on_piece);
                self.between_values(b, on_piece);
                return;
            }
            b'{' | b'[' => self.open.push(b),
            b'}' | b']' => {
                self.open.pop();
            }
            b'"' => self.in_string = true,
            _ => {}
        }
        self.buf.push(b);
        if !b.is_ascii_whitespace() {
            self.last = b;
        }
        if self.open.is_empty() && !self.in_string {
            self.emit(on_piece);
        }
    }

    /// True when a `{` here can be part of a valid value.
    fn object_may_open(&self) -> bool {
        match self.open.last() {
            Some(b'{') => self.last == b':',
            Some(_) => matches!(self.last, b'[' | b','),
            None => false,
        }
    }

    fn between_values(&mut self, b: u8, on_piece: &mut dyn FnMut(Piece<'_>)) {
        if b.is_ascii_whitespace() {
            return;
        }
        match (self.state, b) {
            (State::Open, b'[') => {
                self.state = State::Values;
                return;
            }
            (State::Open, _) => {
                self.state = State::Values;
                self.damage("not a JSON array: it does not start with '['", on_piece);
            }
            (State::Closed, _) => {
                if !self.trailing {
                    self.trailing = true;
                    self.damage("text after the end of the JSON array", on_piece);
                }
                return;
            }
            (State::Values, b',') if self.layout == Layout::Array => return,
            (State::Values, b']') if self.layout == Layout::Array => {
                self.state = State::Closed;
                return;
            }
            (State::Values, _) => {}
        }
        self.number += 1;
        self.start_line = self.line;
        self.buf.push(b);
        self.escaped = false;
        self.last = b;
        match b {
            b'{' | b'[' => self.open.push(b),
            b'"' => self.in_string = true,
            _ => self.scalar = true,
        }
    }

    fn damage(&mut self, reason: &str, on_piece: &mut dyn FnMut(Piece<'_>)) {
        on_piece(Piece::Damage {
            number: self.number + 1,
            line: self.line,
            reason: reason.to_owned(),
        });
    }

    /// Hands on the value read so far.
    fn emit(&mut self, on_piece: &mut dyn FnMut(Piece<'_>)) {
        on_piece(Piece::Value {
            number: self.number,
            line: self.start_line,
            text: &self.buf,
        });
        self.buf.clear();
        self.open.clear();
        self.in_string = false;
        self.escaped = false;
        self.scalar = false;
    }

    fn finish(&mut self, on_piece: &mut dyn FnMut(Piece<'_>)) {
        if self.scalar {
            self.emit(on_piece);
        } else if !self.buf.is_empty() {
            // Handed on as it is: parsing it reports where it ends.
            self.emit(on_piece);
        }
        match self.state {
            State::Open => self.damage("not a JSON array: the file is empty", on_piece),
            State::Values if self.layout == Layout::Array => {
                self.damage(
                    "the JSON array is not closed at the end of the file",
                    on_piece,
                );
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (number, line, text) of every value, and (number, line, reason) of other damage.
    #[allow(clippy::type_complexity)]
    fn pieces(text: &str, layout: Layout) -> (Vec<(u64, u64, String)>, Vec<(u64, u64, String)>) {
        let (mut values, mut damage) = (Vec::new(), Vec::new());
        // A small buffer, so values cross chunk boundaries.
        let reader = std::io::BufReader::with_capacity(7, text.as_bytes());
        split(reader, layout, 1, &mut |p| match p {
            Piece::Value { number, line, text } => {
                values.push((number, line, String::from_utf8_lossy(text).into_owned()));
            }
            Piece::Damage {
                number,
                line,
                reason,
            } => damage.push((number, line, reason)),
        })
        .unwrap();
        (values, damage)
    }

    fn texts(v: &[(u64, u64, String)]) -> Vec<&str> {
        v.iter().map(|x| x.2.as_str()).collect()
    }

    #[test]
    fn pretty_values_with_strings_holding_braces_and_quotes() {
        let text = "{\n  \"a\": \"}{\\\"[\",\n  \"b\": {\"c\": [1, {}]}\n}\n{\"d\": 2}{\"e\":3}\n";
        let (v, d) = pieces(text, Layout::Values);
        assert!(d.is_empty(), "{d:?}");
        assert_eq!(
            texts(&v),
            [
                "{\n  \"a\": \"}{\\\"[\",\n  \"b\": {\"c\": [1, {}]}\n}",
                "{\"d\": 2}",
                "{\"e\":3}"
            ]
        );
        assert_eq!(
            v.iter().map(|x| (x.0, x.1)).collect::<Vec<_>>(),
            [(1, 1), (2, 5), (3, 5)]
        );
    }

    #[test]
    fn an_unclosed_value_ends_at_the_next_object_start() {
        // Value 2 lacks its closing brace; value 3 still starts on line 4.
        let text = "{\"a\":1}\n{\"b\": {\"c\": 1}\n\n{\"d\": 4}\n";
        let (v, d) = pieces(text, Layout::Values);
        assert!(d.is_empty(), "{d:?}");
        assert_eq!(
            texts(&v),
            ["{\"a\":1}", "{\"b\": {\"c\": 1}\n\n", "{\"d\": 4}"]
        );
        assert_eq!(v[2].1, 4);
    }

    #[test]
    fn a_string_cut_off_by_a_line_break_is_ended_there() {
        let text = "{\"a\": \"cut\n}\n{\"b\": 2}\n";
        let (v, _) = pieces(text, Layout::Values);
        assert_eq!(texts(&v), ["{\"a\": \"cut\n}", "{\"b\": 2}"]);
    }

    #[test]
    fn array_elements_commas_and_damage() {
        let text = "[\n  {\"a\": 1},\n  {\"b\": 2,,},\n  {\"c\": {\"x\": 1},\n  {\"d\": 4}\n]\n";
        let (v, d) = pieces(text, Layout::Array);
        assert!(d.is_empty(), "{d:?}");
        assert_eq!(
            texts(&v),
            [
                "{\"a\": 1}",
                "{\"b\": 2,,}",
                "{\"c\": {\"x\": 1},\n  ",
                "{\"d\": 4}"
            ]
        );
        assert_eq!(v.iter().map(|x| x.0).collect::<Vec<_>>(), [1, 2, 3, 4]);
        // Scalars are values too (the reader reports them as not objects).
        let (v, _) = pieces("[1, \"s\", true]", Layout::Array);
        assert_eq!(texts(&v), ["1", "\"s\"", "true"]);
    }

    #[test]
    fn array_framing_errors() {
        let (v, d) = pieces("[{\"a\":1}] trailing {\"b\":2}", Layout::Array);
        assert_eq!(texts(&v), ["{\"a\":1}"]);
        assert_eq!(
            d,
            [(2, 1, "text after the end of the JSON array".to_owned())]
        );
        let (v, d) = pieces("[{\"a\":1}, {\"b\":", Layout::Array);
        assert_eq!(texts(&v), ["{\"a\":1}", "{\"b\":"]);
        assert_eq!(
            d[0].2,
            "the JSON array is not closed at the end of the file"
        );
    }
}

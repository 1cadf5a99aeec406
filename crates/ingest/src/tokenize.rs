//! Splitting a chunk of whole CSV records into fields, without copying unquoted fields.
//!
//! The rules are the usual ones (RFC 4180, as the `csv` crate reads them): a field that starts with the
//! quote character is quoted; inside it, a doubled quote is one quote, and delimiters and line breaks are
//! text. Text after a closing quote, up to the next delimiter, is kept as it is. Any other field runs to
//! the next delimiter or line break (`\n`, `\r\n` or `\r`). Blank lines are skipped.

use std::borrow::Cow;

/// The records of one chunk.
pub(crate) struct Records<'a> {
    text: &'a str,
    bytes: &'a [u8],
    pos: usize,
    delimiter: u8,
    quote: u8,
    /// `stops[b]`: whether byte `b` ends an unquoted field (the delimiter, `\n`, `\r`).
    stops: [bool; 256],
    /// The delimiter in every byte of a word, for the eight-bytes-at-a-time scan.
    delimiters: u64,
    /// The quote in every byte of a word.
    quotes: u64,
    /// Line the next record starts on.
    line: u64,
}

impl<'a> Records<'a> {
    pub(crate) fn new(text: &'a str, delimiter: u8, quote: u8, first_line: u64) -> Self {
        Records {
            text,
            bytes: text.as_bytes(),
            pos: 0,
            delimiter,
            quote,
            stops: std::array::from_fn(|b| b == usize::from(delimiter) || b == 10 || b == 13),
            delimiters: u64::from(delimiter) * ONES,
            quotes: u64::from(quote) * ONES,
            line: first_line,
        }
    }

    /// Reads the next record into `fields` and returns the line it starts on, or `None` at the end.
    pub(crate) fn next_record(&mut self, fields: &mut Vec<Cow<'a, str>>) -> Option<u64> {
        fields.clear();
        let bytes = self.bytes;
        // Skip blank lines.
        while self.pos < bytes.len() && matches!(bytes[self.pos], b'\n' | b'\r') {
            if bytes[self.pos] == b'\n' || bytes.get(self.pos + 1) != Some(&b'\n') {
                self.line += 1;
            }
            self.pos += 1;
        }
        if self.pos >= bytes.len() {
            return None;
        }
        let start_line = self.line;
        loop {
            let (field, end) = self.field();
            fields.push(field);
            match bytes.get(end) {
                Some(&b) if b == self.delimiter => {
                    self.pos = end + 1;
                    if self.pos == bytes.len() {
                        fields.push(Cow::Borrowed(""));
                        return Some(start_line);
                    }
                }
                Some(b'\r') if bytes.get(end + 1) == Some(&b'\n') => {
                    self.pos = end + 2;
                    self.line += 1;
                    return Some(start_line);
                }
                Some(_) => {
                    self.pos = end + 1;
                    self.line += 1;
                    return Some(start_line);
                }
                None => {
                    self.pos = end;
                    return Some(start_line);
                }
            }
        }
    }

    /// The end of an unquoted run starting at `from`: the next delimiter or line break, or the end.
    fn field_end(&self, from: usize) -> usize {
        // Eight bytes at a time (a field is a word or two): XOR turns each byte equal to the
        // delimiter, `\n` or `\r` into a zero byte, and the lowest zero byte is found exactly.
        // Fields are too short to pay for setting up a vector search each (measured).
        let bytes = self.bytes;
        let mut i = from;
        while let Some(word) = bytes.get(i..i + 8) {
            let word = u64::from_le_bytes(word.try_into().expect("eight bytes"));
            let found = zero_bytes(word ^ self.delimiters)
                | zero_bytes(word ^ (u64::from(b'\n') * ONES))
                | zero_bytes(word ^ (u64::from(b'\r') * ONES));
            if found != 0 {
                return i + (found.trailing_zeros() / 8) as usize;
            }
            i += 8;
        }
        while i < bytes.len() && !self.stops[usize::from(bytes[i])] {
            i += 1;
        }
        i
    }

    /// The next quote at or after `from`. Quoted text is short too (names, addresses): words first.
    #[inline]
    fn find_quote(&self, from: usize) -> Option<usize> {
        let bytes = self.bytes;
        let mut i = from;
        for _ in 0..4 {
            let Some(word) = bytes.get(i..i + 8) else {
                break;
            };
            let word = u64::from_le_bytes(word.try_into().expect("eight bytes"));
            let found = zero_bytes(word ^ self.quotes);
            if found != 0 {
                return Some(i + (found.trailing_zeros() / 8) as usize);
            }
            i += 8;
        }
        memchr::memchr(self.quote, &bytes[i..]).map(|at| i + at)
    }

    /// One field from `self.pos`: its text and the index of the byte that ends it (delimiter, line
    /// break, or the end of the chunk). Field boundaries are ASCII bytes, so slicing the text there
    /// always falls on character boundaries.
    fn field(&mut self) -> (Cow<'a, str>, usize) {
        let (text, bytes) = (self.text, self.bytes);
        let start = self.pos;
        if bytes.get(start) != Some(&self.quote) {
            let end = self.field_end(start);
            return (Cow::Borrowed(&text[start..end]), end);
        }
        // Quoted: find the closing quote, unescaping doubled ones.
        let mut owned: Option<String> = None;
        let mut from = start + 1;
        loop {
            let Some(i) = self.find_quote(from) else {
                // Unterminated (the reader reports that for whole files); take the rest.
                self.count_lines(&bytes[from..]);
                return (join(owned, &text[from..]), bytes.len());
            };
            let close = i;
            self.count_lines(&bytes[from..close]);
            if bytes.get(close + 1) == Some(&self.quote) {
                owned
                    .get_or_insert_with(String::new)
                    .push_str(&text[from..=close]);
                from = close + 2;
                continue;
            }
            let mut value = join(owned, &text[from..close]);
            let mut end = close + 1;
            // Text after the closing quote belongs to the field, as written.
            let tail_end = self.field_end(end);
            if tail_end > end {
                let mut joined = value.into_owned();
                joined.push_str(&text[end..tail_end]);
                value = Cow::Owned(joined);
                end = tail_end;
            }
            return (value, end);
        }
    }

    fn count_lines(&mut self, text: &[u8]) {
        for (i, &b) in text.iter().enumerate() {
            if b == b'\n' || (b == b'\r' && text.get(i + 1) != Some(&b'\n')) {
                self.line += 1;
            }
        }
    }
}

const ONES: u64 = 0x0101_0101_0101_0101;

/// The high bit of the lowest zero byte of `word` (and perhaps of bytes above it, which the caller
/// ignores); zero if no byte is zero.
const fn zero_bytes(word: u64) -> u64 {
    word.wrapping_sub(ONES) & !word & (ONES << 7)
}

fn join(owned: Option<String>, rest: &str) -> Cow<'_, str> {
    match owned {
        None => Cow::Borrowed(rest),
        Some(mut buffer) => {
            buffer.push_str(rest);
            Cow::Owned(buffer)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(text: &str, delimiter: u8) -> Vec<(u64, Vec<String>)> {
        let mut records = Records::new(text, delimiter, b'"', 1);
        let mut fields = Vec::new();
        let mut out = Vec::new();
        while let Some(line) = records.next_record(&mut fields) {
            out.push((line, fields.iter().map(|f| f.to_string()).collect()));
        }
        out
    }

    #[test]
    fn fields_records_and_lines() {
        let got = all(
            "a,b\r\n\"x, \"\"y\"\"\",2\n\n\"multi\nline\",3\rlast,\n",
            b',',
        );
        let want: Vec<(u64, Vec<String>)> = vec![
            (1, vec!["a".into(), "b".into()]),
            (2, vec!["x, \"y\"".into(), "2".into()]),
            (4, vec!["multi\nline".into(), "3".into()]),
            (6, vec!["last".into(), "".into()]),
        ];
        assert_eq!(got, want);
        assert_eq!(
            all("1;\"a\"b;3", b';'),
            vec![(1, vec!["1".to_string(), "ab".into(), "3".into()])]
        );
        assert_eq!(all("x,", b','), vec![(1, vec!["x".to_string(), "".into()])]);
        assert_eq!(
            all("a\"b,c\n", b','),
            vec![(1, vec!["a\"b".to_string(), "c".into()])]
        );
    }

    #[test]
    fn agrees_with_the_csv_crate() {
        let text = "id,note,n\n1,\"a,b\",2\n2,\"say \"\"hi\"\"\",3\n3,,\n4,\"line\r\nbreak\",5\r\n";
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .from_reader(text.as_bytes());
        let expected: Vec<Vec<String>> = reader
            .records()
            .map(|r| r.unwrap().iter().map(str::to_string).collect())
            .collect();
        let got: Vec<Vec<String>> = all(text, b',').into_iter().map(|(_, f)| f).collect();
        assert_eq!(got, expected);
    }

    #[test]
    fn fields_of_every_length_and_byte() {
        // Fields from 0 to 40 bytes of awkward bytes (multi-byte characters, 0x80-0xff in UTF-8,
        // the other delimiters), some quoted, so that the eight-byte scans meet a stop or a
        // quote at every offset.
        let pieces = [
            "a", "é", "€", "😀", ";", "|", "\t", " ", "\u{7f}", "ÿ", "z9",
        ];
        let mut seed = 7u64;
        let mut next = move |n: usize| {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (seed >> 33) as usize % n
        };
        for delimiter in [b',', b';', b'\t', b'|'] {
            let mut text = String::new();
            let mut want = Vec::new();
            for _ in 0..200 {
                let mut record: Vec<String> = (0..1 + next(5))
                    .map(|_| {
                        let mut field = String::new();
                        while field.len() < next(41) {
                            let piece = pieces[next(pieces.len())];
                            if piece.as_bytes() != [delimiter] {
                                field.push_str(piece);
                            }
                        }
                        field
                    })
                    .collect();
                if record.iter().all(String::is_empty) {
                    continue; // a blank line is skipped
                }
                // A quarter of the fields quoted, holding quotes, delimiters and line breaks too.
                let written: Vec<String> = record
                    .iter_mut()
                    .map(|field| {
                        if next(4) > 0 {
                            return field.clone();
                        }
                        for _ in 0..next(3) {
                            field.push_str(["\"", "\n", ",", "\r\n"][next(4)]);
                            field.push('q');
                        }
                        format!("\"{}\"", field.replace('"', "\"\""))
                    })
                    .collect();
                text.push_str(&written.join(&char::from(delimiter).to_string()));
                text.push_str(["\n", "\r\n", "\r"][next(3)]);
                want.push(record);
            }
            let got: Vec<Vec<String>> = all(&text, delimiter).into_iter().map(|(_, f)| f).collect();
            assert_eq!(got, want, "delimiter {:?}", char::from(delimiter));
        }
    }
}

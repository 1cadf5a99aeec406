//! Splitting a chunk of whole CSV records into fields, without copying unquoted fields.
//!
//! The rules are the usual ones (RFC 4180, as the `csv` crate reads them): a field that starts with the
//! quote character is quoted; inside it, a doubled quote is one quote, and delimiters and line breaks are
//! text. Text after a closing quote, up to the next delimiter, is kept as it is. Any other field runs to
//! the next delimiter or line break (`\n`, `\r\n` or `\r`). Blank lines are skipped.
//!
//! Delimiters, line breaks and quotes are found 64 bytes at a time with vector instructions (the
//! `wide` crate: safe code over SSE2), as bits of a number; a field then ends at the lowest bit
//! left. Quoted fields of the usual shape (closed within the block or the next, followed by a
//! delimiter or line break, no line break or doubled quote inside) come from the bits too; any
//! other is read byte by byte.

use std::borrow::Cow;

use wide::u8x16;

/// The records of one chunk.
pub(crate) struct Records<'a> {
    text: &'a str,
    bytes: &'a [u8],
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
            delimiter,
            quote,
            stops: std::array::from_fn(|b| b == usize::from(delimiter) || b == 10 || b == 13),
            delimiters: u64::from(delimiter) * ONES,
            quotes: u64::from(quote) * ONES,
            line: first_line,
        }
    }

    /// Calls `each` with the line each record starts on and its fields, record after record;
    /// stops at the first error `each` returns.
    ///
    /// The delimiters, line breaks and quotes of 64 bytes are found at once, as the bits of
    /// numbers, with vector instructions; an unquoted field then ends at the lowest bit left, and
    /// taking it out is one instruction. A quoted field of the usual shape (closed in this block or
    /// the next, right before a delimiter or line break, no quote or line break inside) comes from
    /// the bits too; any other is read byte by byte ([`Records::quoted`]), and the bits are found
    /// again after it.
    pub(crate) fn for_each<E>(
        mut self,
        mut each: impl FnMut(u64, &[Cow<'a, str>]) -> Result<(), E>,
    ) -> Result<(), E> {
        let (text, bytes, len) = (self.text, self.bytes, self.bytes.len());
        let stops = Stops::new(self.delimiter, self.quote);
        let mut fields = Vec::with_capacity(16);
        let mut pos = 0;
        // The 64-byte block at `block`, its bits, and its stops at or after `pos` still to take.
        let (mut block, mut bits, mut mask) = stops.seek(bytes, 0);
        loop {
            // Skip blank lines.
            if matches!(bytes.get(pos), Some(b'\n' | b'\r')) {
                while pos < len && matches!(bytes[pos], b'\n' | b'\r') {
                    if bytes[pos] == b'\n' || bytes.get(pos + 1) != Some(&b'\n') {
                        self.line += 1;
                    }
                    pos += 1;
                }
                (block, bits, mask) = stops.seek(bytes, pos);
            }
            if pos >= len {
                return Ok(());
            }
            let record_line = self.line;
            fields.clear();
            loop {
                let end;
                if bytes[pos] == self.quote {
                    if pos & !63 != block {
                        (block, bits, mask) = stops.seek(bytes, pos);
                    }
                    // The usual quoted field: closed in the same block, right before a delimiter
                    // or line break, with no quote or line break inside. Anything else is read
                    // byte by byte.
                    let at = pos & 63;
                    let after = (bits.quotes >> at) >> 1;
                    let close = at + 1 + after.trailing_zeros() as usize;
                    let inside = (u64::MAX << at) & !(u64::MAX << close.min(63));
                    let mut straddles = None;
                    if after == 0 && bits.breaks >> at == 0 && block + 64 < len {
                        // Closed in the next block, perhaps: the field straddles the two.
                        let next = stops.block(bytes, block + 64);
                        let close = next.quotes.trailing_zeros() as usize;
                        if close < 63
                            && next.stops & (1 << (close + 1)) != 0
                            && next.breaks & !(u64::MAX << close) == 0
                        {
                            straddles = Some((next, close));
                        }
                    }
                    if after != 0
                        && close < 63
                        && bits.stops & (1 << (close + 1)) != 0
                        && bits.breaks & inside == 0
                    {
                        fields.push(Cow::Borrowed(&text[pos + 1..block + close]));
                        end = block + close + 1;
                        mask &= u64::MAX << (close + 1);
                    } else if let Some((next, close)) = straddles {
                        block += 64;
                        bits = next;
                        fields.push(Cow::Borrowed(&text[pos + 1..block + close]));
                        end = block + close + 1;
                        mask = bits.stops & (u64::MAX << (close + 1));
                    } else {
                        let (value, stop) = self.quoted(pos);
                        fields.push(value);
                        end = stop;
                        if end & !63 == block {
                            // The bits are the block's whatever the quotes: drop those inside.
                            mask &= u64::MAX << (end & 63);
                        } else {
                            (block, bits, mask) = stops.seek(bytes, end);
                        }
                    }
                } else {
                    while mask == 0 && block + 64 < len {
                        block += 64;
                        bits = stops.block(bytes, block);
                        mask = bits.stops;
                    }
                    end = if mask == 0 {
                        len
                    } else {
                        block + mask.trailing_zeros() as usize
                    };
                    fields.push(Cow::Borrowed(&text[pos..end]));
                }
                // `end` is the lowest bit of `mask`, or the end of the chunk.
                if end >= len {
                    pos = len;
                    break;
                }
                mask &= mask - 1;
                pos = end + 1;
                let stop = bytes[end];
                if stop == self.delimiter {
                    if pos == len {
                        fields.push(Cow::Borrowed(""));
                        break;
                    }
                    continue;
                }
                self.line += 1;
                if stop == b'\r' && bytes.get(pos) == Some(&b'\n') {
                    pos += 1;
                    if pos & !63 == block {
                        mask &= mask - 1;
                    } else {
                        (block, bits, mask) = stops.seek(bytes, pos);
                    }
                }
                break;
            }
            each(record_line, &fields)?;
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

    /// The quoted field that starts at `start`: its text (doubled quotes unescaped, text after the
    /// closing quote kept as written) and the index of the byte that ends it (delimiter, line
    /// break, or the end of the chunk). Field boundaries are ASCII bytes, so slicing the text there
    /// always falls on character boundaries.
    fn quoted(&mut self, start: usize) -> (Cow<'a, str>, usize) {
        let (text, bytes) = (self.text, self.bytes);
        let mut owned: Option<String> = None;
        let mut from = start + 1;
        loop {
            let Some(close) = self.find_quote(from) else {
                // Unterminated (the reader reports that for whole files); take the rest.
                self.count_lines(&bytes[from..]);
                return (join(owned, &text[from..]), bytes.len());
            };
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

/// Finds the delimiters, line breaks and quotes of a 64-byte block.
struct Stops {
    delimiter: u8,
    quote: u8,
    delimiters: u8x16,
    quotes: u8x16,
}

/// Bit `i` of each: whether byte `block + i` is one of them (none past the end).
#[derive(Clone, Copy, Default)]
struct Bits {
    /// Delimiters and line breaks.
    stops: u64,
    /// `\n` and `\r`.
    breaks: u64,
    /// Quote characters.
    quotes: u64,
}

impl Stops {
    fn new(delimiter: u8, quote: u8) -> Self {
        Stops {
            delimiter,
            quote,
            delimiters: u8x16::splat(delimiter),
            quotes: u8x16::splat(quote),
        }
    }

    #[inline]
    fn block(&self, bytes: &[u8], block: usize) -> Bits {
        let end = (block + 64).min(bytes.len());
        let Some(whole) = bytes[block..end].first_chunk::<64>() else {
            let mut bits = Bits::default();
            for (i, &b) in bytes[block..end].iter().enumerate() {
                let line_break = u64::from(b == b'\n' || b == b'\r') << i;
                bits.breaks |= line_break;
                bits.stops |= line_break | u64::from(b == self.delimiter) << i;
                bits.quotes |= u64::from(b == self.quote) << i;
            }
            return bits;
        };
        let (newlines, returns) = (u8x16::splat(b'\n'), u8x16::splat(b'\r'));
        let mut bits = Bits::default();
        for (k, part) in whole.chunks_exact(16).enumerate() {
            let v = u8x16::new(part.try_into().expect("sixteen bytes"));
            let breaks = v.simd_eq(newlines) | v.simd_eq(returns);
            let shift = 16 * k;
            bits.breaks |= u64::from(breaks.to_bitmask()) << shift;
            bits.stops |= u64::from((breaks | v.simd_eq(self.delimiters)).to_bitmask()) << shift;
            bits.quotes |= u64::from(v.simd_eq(self.quotes).to_bitmask()) << shift;
        }
        bits
    }

    /// The block that holds `pos`, its bits, and its stops at or after `pos`.
    fn seek(&self, bytes: &[u8], pos: usize) -> (usize, Bits, u64) {
        let block = pos & !63;
        if block >= bytes.len() {
            return (block, Bits::default(), 0);
        }
        let bits = self.block(bytes, block);
        (block, bits, bits.stops & (u64::MAX << (pos & 63)))
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
        let mut out = Vec::new();
        Records::new(text, delimiter, b'"', 1)
            .for_each(|line, fields| {
                out.push((line, fields.iter().map(|f| f.to_string()).collect()));
                Ok::<(), ()>(())
            })
            .unwrap();
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
    fn line_breaks_and_quotes_at_every_offset_of_a_block() {
        // Records are found 64 bytes at a time: put each line break, blank line and quoted field
        // across every offset of a block, and the fields and lines must not move.
        for pad in 1..140 {
            let (a, f) = ("a".repeat(pad), "f".repeat(pad));
            let text = format!("{a}\r\n\r\nb,\"c\r\nd\"\re,{f}\n\n,\n\"g,h\",\"\",\"{a}\"\r\n");
            let want: Vec<(u64, Vec<String>)> = vec![
                (1, vec![a.clone()]),
                (3, vec!["b".into(), "c\r\nd".into()]),
                (5, vec!["e".into(), f.clone()]),
                (7, vec![String::new(), String::new()]),
                (8, vec!["g,h".into(), String::new(), a.clone()]),
            ];
            assert_eq!(all(&text, b','), want, "pad {pad}");
        }
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
        let mut next = crate::testing::draws(7);
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

//! Counting words quickly: a word of at most 15 bytes is packed with its length into a
//! `u128` and counted in a map keyed by that integer, so counting neither allocates nor
//! hashes and compares through a pointer; longer words are counted in a map of `String`s.
//! The frequency sink's hot loop. Plain data; knows nothing of chunks or tasks.

use crate::ids::Map;

/// Counts of words (any text), exact.
#[derive(Debug, Default)]
pub struct WordTally {
    short: Map<u128, u64>,
    long: Map<String, u64>,
}

/// The longest word packed into a `u128` (the 16th byte holds the length).
const PACKED_MAX: usize = 15;

impl WordTally {
    /// Counts one occurrence of `word`.
    #[inline]
    pub fn add(&mut self, word: &str) {
        let bytes = word.as_bytes();
        if bytes.len() <= PACKED_MAX {
            *self.short.entry(pack(bytes)).or_insert(0) += 1;
        } else if let Some(n) = self.long.get_mut(word) {
            *n += 1;
        } else {
            self.long.insert(word.to_owned(), 1);
        }
    }

    /// Adds every count into `table`.
    pub fn drain_into(self, table: &mut Map<String, u64>) {
        table.reserve(self.short.len() + self.long.len());
        for (key, n) in self.short {
            *table.entry(unpack(key)).or_insert(0) += n;
        }
        for (word, n) in self.long {
            *table.entry(word).or_insert(0) += n;
        }
    }
}

/// The word's bytes in little-endian order, zero-padded, with the length in the top byte.
/// Built from overlapping unaligned loads rather than a copy through a buffer, whose
/// variable-length store a following 16-byte load would wait on.
#[inline]
fn pack(bytes: &[u8]) -> u128 {
    let len = bytes.len();
    debug_assert!(len <= PACKED_MAX);
    let u64_at = |at: usize| u64::from_le_bytes(bytes[at..at + 8].try_into().expect("8 bytes"));
    let u32_at = |at: usize| {
        u64::from(u32::from_le_bytes(
            bytes[at..at + 4].try_into().expect("4 bytes"),
        ))
    };
    // The tail load repeats bytes the head load already has; shifting drops them.
    let (low, high) = if len >= 8 {
        let tail = u64_at(len - 8).checked_shr(8 * (16 - len) as u32);
        (u64_at(0), tail.unwrap_or(0))
    } else if len >= 4 {
        let tail = u32_at(len - 4) >> (8 * (8 - len));
        (u32_at(0) | tail << 32, 0)
    } else {
        let byte = |i: usize| bytes.get(i).map_or(0, |b| u64::from(*b) << (8 * i));
        (byte(0) | byte(1) | byte(2), 0)
    };
    u128::from(low) | u128::from(high | (len as u64) << 56) << 64
}

fn unpack(key: u128) -> String {
    let buffer = key.to_le_bytes();
    let len = usize::from(buffer[PACKED_MAX]);
    String::from_utf8(buffer[..len].to_vec()).expect("packed from a str")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_short_long_empty_and_multibyte_words_exactly() {
        let words = [
            "a",
            "",
            "ab",
            "a",
            "fifteen-bytes!!",
            "sixteen-bytes!!!",
            "sixteen-bytes!!!",
            "été",
            "a\0",
            "",
        ];
        let mut tally = WordTally::default();
        words.iter().for_each(|w| tally.add(w));
        let mut table = Map::default();
        tally.drain_into(&mut table);
        let mut expected: Map<String, u64> = Map::default();
        for w in words {
            *expected.entry(w.to_string()).or_insert(0) += 1;
        }
        assert_eq!(table, expected);
    }

    proptest::proptest! {
        #[test]
        fn packing_is_the_padded_bytes_and_length(word in "\\PC{0,15}") {
            let bytes = &word.as_bytes()[..word.len().min(PACKED_MAX)];
            let mut padded = [0_u8; 16];
            padded[..bytes.len()].copy_from_slice(bytes);
            padded[PACKED_MAX] = bytes.len() as u8;
            proptest::prop_assert_eq!(pack(bytes), u128::from_le_bytes(padded));
        }
    }
}

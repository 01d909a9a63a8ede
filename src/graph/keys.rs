//! Dask-style key names: `key!("x")` is the key `x`, `key!("x", 3)` is the tuple key
//! `('x', 3)`, written exactly as Python prints the tuple so keys read the same in both worlds.
//!
//! Pure string building; depends on nothing but [`TaskKey`].

use crate::ids::TaskKey;

/// Makes a [`TaskKey`] from one or more parts, each a string or any integer type.
///
/// One part is the key itself (`key!("x")` and `"x"` are the same key); several parts make a
/// tuple key written as Python prints it: strings in single quotes, integers bare.
///
/// ```
/// use taskforce::graph::key;
/// use taskforce::ids::TaskKey;
///
/// assert_eq!(key!("x"), TaskKey::from("x"));
/// assert_eq!(key!("x", 3).as_str(), "('x', 3)");
/// assert_eq!(key!("sum", 2_u64, -1).as_str(), "('sum', 2, -1)");
/// let name = String::from("chunk");
/// assert_eq!(key!(name, 0, 1).as_str(), "('chunk', 0, 1)");
/// ```
#[macro_export]
macro_rules! key {
    ($only:expr $(,)?) => {
        $crate::graph::__private::bare_key(&$only)
    };
    ($first:expr $(, $part:expr)+ $(,)?) => {{
        let mut key = $crate::graph::__private::TupleKey::start(&$first);
        $(key.push(&$part);)+
        key.finish()
    }};
}

/// One part of a key written with [`key!`](crate::key): a string or an integer.
pub trait KeyPart {
    /// Appends the part as it appears inside a tuple key (strings quoted, integers bare).
    fn write_in_tuple(&self, out: &mut String);
    /// Appends the part as a key on its own (a string as itself, an integer in decimal).
    fn write_bare(&self, out: &mut String);
}

impl KeyPart for str {
    fn write_in_tuple(&self, out: &mut String) {
        write_python_repr(self, out);
    }

    fn write_bare(&self, out: &mut String) {
        out.push_str(self);
    }
}

impl KeyPart for String {
    fn write_in_tuple(&self, out: &mut String) {
        self.as_str().write_in_tuple(out);
    }

    fn write_bare(&self, out: &mut String) {
        out.push_str(self);
    }
}

impl<T: KeyPart + ?Sized> KeyPart for &T {
    fn write_in_tuple(&self, out: &mut String) {
        (**self).write_in_tuple(out);
    }

    fn write_bare(&self, out: &mut String) {
        (**self).write_bare(out);
    }
}

macro_rules! integer_key_parts {
    ($($t:ty),*) => {$(
        impl KeyPart for $t {
            fn write_in_tuple(&self, out: &mut String) {
                self.write_bare(out);
            }

            fn write_bare(&self, out: &mut String) {
                out.push_str(itoa::Buffer::new().format(*self));
            }
        }
    )*};
}

integer_key_parts!(i8, i16, i32, i64, i128, isize, u8, u16, u32, u64, u128, usize);

/// Writes `text` as Python's `repr` of a string: single quotes unless the text holds a single
/// quote and no double quote.
fn write_python_repr(text: &str, out: &mut String) {
    let quote = if text.contains('\'') && !text.contains('"') {
        '"'
    } else {
        '\''
    };
    out.push(quote);
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out.push(quote);
}

/// The key of a single part (what `key!(part)` expands to).
pub fn bare_key<P: KeyPart + ?Sized>(part: &P) -> TaskKey {
    let mut text = String::new();
    part.write_bare(&mut text);
    TaskKey::from(text)
}

/// A tuple key being written (what `key!(a, b, …)` expands to).
#[derive(Clone, Debug)]
pub struct TupleKey {
    text: String,
}

impl TupleKey {
    /// Starts a tuple key with its first part.
    pub fn start<P: KeyPart + ?Sized>(first: &P) -> Self {
        let mut text = String::from("(");
        first.write_in_tuple(&mut text);
        TupleKey { text }
    }

    /// A copy of the key written so far with room for `extra` more bytes: writes the common
    /// start of many keys (a layer's quoted name) once.
    pub fn branch(&self, extra: usize) -> Self {
        let mut text = String::with_capacity(self.text.len() + extra);
        text.push_str(&self.text);
        TupleKey { text }
    }

    /// Appends the next part.
    pub fn push<P: KeyPart + ?Sized>(&mut self, part: &P) {
        self.text.push_str(", ");
        part.write_in_tuple(&mut self.text);
    }

    /// The finished key.
    pub fn finish(mut self) -> TaskKey {
        self.text.push(')');
        TaskKey::from(self.text)
    }
}

#[cfg(test)]
mod tests {
    use crate::ids::TaskKey;

    #[test]
    fn one_part_is_the_key_itself() {
        assert_eq!(key!("x"), TaskKey::from("x"));
        assert_eq!(key!(String::from("x")), TaskKey::from("x"));
        assert_eq!(key!(7_u8).as_str(), "7");
    }

    #[test]
    fn tuple_keys_read_like_python_tuples() {
        assert_eq!(key!("x", 3).as_str(), "('x', 3)");
        assert_eq!(key!("x", 1_usize, 2_i64, -3_i8).as_str(), "('x', 1, 2, -3)");
        assert_eq!(key!("a", "b").as_str(), "('a', 'b')");
        assert_eq!(key!("it's", 0).as_str(), "(\"it's\", 0)");
        assert_eq!(key!("a'\"b", 0).as_str(), "('a\\'\"b', 0)");
        let i = 5_u32;
        let start = super::TupleKey::start("x");
        let mut branch = start.branch(8);
        branch.push(&i);
        assert_eq!(branch.finish(), key!("x", 5));
        assert_eq!(start.finish().as_str(), "('x')");
        assert_eq!(key!("x", i,), key!("x", 5));
    }
}

//! Grouping keys into layers: `"('x', 3)"` and `"x-3"` belong to layer `x`, a pure call's
//! `"inc-8bca9d…"` to layer `inc`, and `"reduce-1dd5…-combine-1"` to `reduce`.

/// The layer a key belongs to: its name up to the first index or hash part (a segment of
/// digits, or of 8 or more hex digits), so `"reduce-1dd54c29…-combine-1"` is in `reduce`.
///
/// ```
/// use taskforce::dashboard::layer_of;
/// assert_eq!(layer_of("inc-8bca9d0e3f1a2b4c5d6e7f8091a2b3c4"), "inc");
/// assert_eq!(layer_of("reduce-1dd54c2996823e41-combine-1"), "reduce");
/// assert_eq!(layer_of("('sum', 3)"), "sum");
/// assert_eq!(layer_of("total"), "total");
/// assert_eq!(layer_of("add-face"), "add-face");
/// ```
pub fn layer_of(key: &str) -> &str {
    if let Some(rest) = key.strip_prefix("('") {
        return rest.split('\'').next().unwrap_or(rest);
    }
    let mut end = 0;
    for (at, segment) in key.split('-').enumerate() {
        if at > 0 && end > 0 && is_index_or_hash(segment) {
            return &key[..end];
        }
        end += segment.len() + usize::from(at > 0);
    }
    key
}

fn is_index_or_hash(segment: &str) -> bool {
    let digits = !segment.is_empty() && segment.chars().all(|c| c.is_ascii_digit());
    let hash = segment.len() >= 8 && segment.chars().all(|c| c.is_ascii_hexdigit());
    digits || hash
}

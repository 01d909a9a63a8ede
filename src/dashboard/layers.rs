//! Grouping keys into layers: `"('x', 3)"` and `"x-3"` belong to layer `x`, a pure call's
//! `"inc-8bca9d…"` to layer `inc`.

/// The layer a key belongs to: its name without a trailing index, tuple part or hash.
///
/// ```
/// use taskforce::dashboard::layer_of;
/// assert_eq!(layer_of("inc-8bca9d0e3f1a2b4c5d6e7f8091a2b3c4"), "inc");
/// assert_eq!(layer_of("('sum', 3)"), "sum");
/// assert_eq!(layer_of("total"), "total");
/// ```
pub fn layer_of(key: &str) -> &str {
    if let Some(rest) = key.strip_prefix("('") {
        return rest.split('\'').next().unwrap_or(rest);
    }
    match key.rsplit_once('-') {
        Some((name, tail)) if !name.is_empty() && is_index_or_hash(tail) => name,
        _ => key,
    }
}

fn is_index_or_hash(tail: &str) -> bool {
    !tail.is_empty() && tail.chars().all(|c| c.is_ascii_hexdigit())
}

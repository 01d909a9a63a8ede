//! Abstract worker resources, as dask's `--resources "GPU=2,MEM=10e9"`: named amounts a
//! worker offers and a task asks for. A task asking `GPU=1` runs only on a worker with one
//! `GPU` free, and holds it while it runs.
//!
//! Amounts are kept in thousandths as integers ([`ResourceAmount`]), so taking and giving
//! back is exact arithmetic with no floating-point drift. Pure data and parsing: no I/O, no
//! actors, nothing from the scheduler or the wire.

use std::fmt;

use serde::{Deserialize, Serialize};

/// An amount of one resource, in thousandths (`1.5` is `ResourceAmount(1500)`).
///
/// ```
/// use taskforce::resources::ResourceAmount;
/// assert_eq!(ResourceAmount::from_f64(1.5), Some(ResourceAmount(1500)));
/// assert_eq!(ResourceAmount(2000).to_string(), "2");
/// assert_eq!(ResourceAmount::from_f64(-1.0), None);
/// ```
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
pub struct ResourceAmount(pub u64);

impl ResourceAmount {
    /// The amount `value` rounded to thousandths; `None` if it is negative, not finite or
    /// too large to count in thousandths.
    pub fn from_f64(value: f64) -> Option<Self> {
        let thousandths = (value * 1000.0).round();
        (value.is_finite() && value >= 0.0 && thousandths < u64::MAX as f64)
            .then_some(ResourceAmount(thousandths as u64))
    }

    /// The amount as a float (for display).
    pub fn as_f64(self) -> f64 {
        self.0 as f64 / 1000.0
    }
}

impl fmt::Display for ResourceAmount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.as_f64())
    }
}

/// Named resource amounts, sorted by name, each name once: what a worker offers or what a
/// task asks for.
///
/// ```
/// use taskforce::resources::Resources;
/// let offered: Resources = "GPU=2, MEM=10e9".parse().unwrap();
/// assert_eq!(offered.to_string(), "GPU=2,MEM=10000000000");
/// let asked = Resources::from_pairs([("GPU", 1.0)]).unwrap();
/// assert!(offered.covers(&asked));
/// assert!("GPU".parse::<Resources>().is_err()); // "expected NAME=AMOUNT"
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Resources(Vec<(String, ResourceAmount)>);

/// Why resources were refused. Retrying the same text cannot help.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ResourceError {
    /// An entry is not `NAME=AMOUNT`.
    #[error(
        "resource entry {entry:?} is malformed: expected NAME=AMOUNT, e.g. \"GPU=2,MEM=10e9\""
    )]
    Malformed {
        /// The entry as written.
        entry: String,
    },
    /// An amount is not a non-negative finite number (a task must ask for more than 0).
    #[error("resource {name}: amount {amount:?} is not a positive finite number")]
    BadAmount {
        /// The resource.
        name: String,
        /// The amount as written.
        amount: String,
    },
    /// A name appears twice.
    #[error("resource {name} is given twice")]
    Duplicate {
        /// The resource.
        name: String,
    },
    /// A task asks for a resource no connected worker offers.
    #[error("no connected worker offers resource {name:?} (workers offer: {offered}); start workers with --resources \"{name}=N\"")]
    Unknown {
        /// The resource asked for.
        name: String,
        /// What connected workers offer, comma-separated (or "none").
        offered: String,
    },
}

impl Resources {
    /// No resources.
    pub fn new() -> Self {
        Self::default()
    }

    /// Resources from `(name, amount)` pairs, as a task asks for them: every amount must be
    /// positive and finite, every name non-empty and given once.
    pub fn from_pairs<S: Into<String>>(
        pairs: impl IntoIterator<Item = (S, f64)>,
    ) -> Result<Self, ResourceError> {
        let mut entries = Vec::new();
        for (name, value) in pairs {
            let name = name.into();
            let amount = ResourceAmount::from_f64(value)
                .filter(|amount| amount.0 > 0)
                .ok_or_else(|| ResourceError::BadAmount {
                    name: name.clone(),
                    amount: value.to_string(),
                })?;
            if name.trim().is_empty() || name.contains([',', '=']) {
                return Err(ResourceError::Malformed {
                    entry: format!("{name}={value}"),
                });
            }
            entries.push((name, amount));
        }
        Self::from_entries(entries)
    }

    /// Sorts and checks for repeated names.
    fn from_entries(mut entries: Vec<(String, ResourceAmount)>) -> Result<Self, ResourceError> {
        entries.sort();
        if let Some(pair) = entries.windows(2).find(|pair| pair[0].0 == pair[1].0) {
            return Err(ResourceError::Duplicate {
                name: pair[0].0.clone(),
            });
        }
        Ok(Resources(entries))
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The entries, sorted by name.
    pub fn iter(&self) -> impl Iterator<Item = (&str, ResourceAmount)> {
        self.0.iter().map(|(name, amount)| (name.as_str(), *amount))
    }

    /// The amount of `name` (zero if absent).
    pub fn get(&self, name: &str) -> ResourceAmount {
        self.0
            .binary_search_by(|(have, _)| have.as_str().cmp(name))
            .map_or(ResourceAmount(0), |at| self.0[at].1)
    }

    /// Whether every amount `asked` names is available here.
    pub fn covers(&self, asked: &Resources) -> bool {
        asked.iter().all(|(name, amount)| self.get(name) >= amount)
    }

    /// Takes `asked` out of these amounts (which must cover it).
    pub fn take(&mut self, asked: &Resources) {
        for (name, amount) in asked.iter() {
            if let Ok(at) = self.0.binary_search_by(|(have, _)| have.as_str().cmp(name)) {
                let have = &mut self.0[at].1;
                have.0 = have.0.saturating_sub(amount.0);
            }
        }
    }

    /// Gives `asked` back, never above `total`.
    pub fn give_back(&mut self, asked: &Resources, total: &Resources) {
        for (name, amount) in asked.iter() {
            if let Ok(at) = self.0.binary_search_by(|(have, _)| have.as_str().cmp(name)) {
                let have = &mut self.0[at].1;
                have.0 = have.0.saturating_add(amount.0).min(total.get(name).0);
            }
        }
    }
}

impl std::str::FromStr for Resources {
    type Err = ResourceError;

    /// Parses `NAME=AMOUNT[,NAME=AMOUNT...]` (spaces allowed, amounts as floats such as
    /// `10e9`); an empty text is no resources. Amounts of 0 are allowed for workers.
    fn from_str(text: &str) -> Result<Self, ResourceError> {
        let mut entries = Vec::new();
        for entry in text.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let Some((name, amount)) = entry.split_once('=') else {
                return Err(ResourceError::Malformed {
                    entry: entry.to_string(),
                });
            };
            let (name, amount) = (name.trim(), amount.trim());
            if name.is_empty() {
                return Err(ResourceError::Malformed {
                    entry: entry.to_string(),
                });
            }
            let value = amount
                .parse::<f64>()
                .ok()
                .and_then(ResourceAmount::from_f64)
                .ok_or_else(|| ResourceError::BadAmount {
                    name: name.to_string(),
                    amount: amount.to_string(),
                })?;
            entries.push((name.to_string(), value));
        }
        Self::from_entries(entries)
    }
}

impl fmt::Display for Resources {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (at, (name, amount)) in self.0.iter().enumerate() {
            let comma = if at == 0 { "" } else { "," };
            write!(f, "{comma}{name}={amount}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_cli_form() {
        let parsed: Resources = "MEM=10e9, GPU=2".parse().unwrap();
        assert_eq!(parsed.get("GPU"), ResourceAmount(2000));
        assert_eq!(parsed.get("MEM"), ResourceAmount(10_000_000_000_000));
        assert_eq!(parsed.get("TPU"), ResourceAmount(0));
        assert_eq!("".parse::<Resources>().unwrap(), Resources::new());
    }

    #[test]
    fn malformed_text_is_refused_with_the_entry() {
        let err = "GPU=2,FOO".parse::<Resources>().unwrap_err();
        assert_eq!(
            err,
            ResourceError::Malformed {
                entry: "FOO".into()
            }
        );
        assert!(err.to_string().contains("NAME=AMOUNT"));
        assert!(matches!(
            "GPU=two".parse::<Resources>(),
            Err(ResourceError::BadAmount { .. })
        ));
        assert!(matches!(
            "GPU=-1".parse::<Resources>(),
            Err(ResourceError::BadAmount { .. })
        ));
        assert!(matches!(
            "=1".parse::<Resources>(),
            Err(ResourceError::Malformed { .. })
        ));
        assert_eq!(
            "GPU=1,GPU=2".parse::<Resources>(),
            Err(ResourceError::Duplicate { name: "GPU".into() })
        );
    }

    #[test]
    fn a_task_must_ask_for_a_positive_amount() {
        assert!(Resources::from_pairs([("GPU", 0.0)]).is_err());
        assert!(Resources::from_pairs([("GPU", f64::NAN)]).is_err());
        assert!(Resources::from_pairs([("", 1.0)]).is_err());
        assert!(Resources::from_pairs([("GPU", 0.5)]).is_ok());
    }

    #[test]
    fn take_and_give_back_are_exact() {
        let total: Resources = "GPU=1".parse().unwrap();
        let asked = Resources::from_pairs([("GPU", 0.1)]).unwrap();
        let mut free = total.clone();
        for _ in 0..10 {
            assert!(free.covers(&asked));
            free.take(&asked);
        }
        assert!(!free.covers(&asked));
        for _ in 0..10 {
            free.give_back(&asked, &total);
        }
        assert_eq!(free, total);
        free.give_back(&asked, &total);
        assert_eq!(free, total, "never above the total");
    }
}

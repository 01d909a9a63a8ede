//! Bag: a lazy, partitioned collection of serde values, lowered to task graphs.

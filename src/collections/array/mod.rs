//! Array: a chunked n-dimensional array on ndarray, lowered to task graphs.

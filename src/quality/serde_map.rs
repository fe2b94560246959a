//! Serde for maps whose keys are not strings (tuples, enums): saved as a
//! list of `[key, value]` pairs, since JSON object keys can only be text.
//! Use with `#[serde(with = "serde_map")]` on a `BTreeMap` field.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

pub fn serialize<K, V, S>(map: &BTreeMap<K, V>, s: S) -> Result<S::Ok, S::Error>
where
    K: Serialize,
    V: Serialize,
    S: Serializer,
{
    s.collect_seq(map.iter())
}

pub fn deserialize<'de, K, V, D>(d: D) -> Result<BTreeMap<K, V>, D::Error>
where
    K: Deserialize<'de> + Ord,
    V: Deserialize<'de>,
    D: Deserializer<'de>,
{
    let pairs: Vec<(K, V)> = Vec::deserialize(d)?;
    let n = pairs.len();
    let map: BTreeMap<K, V> = pairs.into_iter().collect();
    if map.len() != n {
        return Err(serde::de::Error::custom("a key appears twice"));
    }
    Ok(map)
}

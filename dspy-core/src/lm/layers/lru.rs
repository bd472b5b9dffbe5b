//! The cache's memory store: least recently used answers (or embedding vectors) dropped
//! first, bounded both by how many it keeps and by their size (a few long answers can weigh as
//! much as thousands of short ones).

use crate::lm::LmResponse;
use lru::LruCache;

/// What an entry is taken to weigh besides its texts: the key, the struct, the map's slot.
const ENTRY_OVERHEAD: usize = 160;

/// What an entry weighs in memory, besides [`ENTRY_OVERHEAD`] and its key.
pub(super) trait Weight {
    fn weight(&self) -> usize;
}

impl Weight for LmResponse {
    fn weight(&self) -> usize {
        let texts: usize = self.choices.iter().map(|c| c.text.len() + 16).sum();
        self.model.len() + texts
    }
}

impl Weight for Vec<f32> {
    fn weight(&self) -> usize {
        std::mem::size_of_val(self.as_slice())
    }
}

pub(super) struct Memory<V = LmResponse> {
    entries: LruCache<String, V>,
    bytes: usize,
    max_bytes: usize,
}

impl<V: Weight> Memory<V> {
    /// `None` when either bound is zero (no memory cache).
    pub(super) fn new(max_entries: usize, max_bytes: usize) -> Option<Memory<V>> {
        let cap = std::num::NonZeroUsize::new(max_entries)?;
        (max_bytes > 0).then(|| Memory {
            entries: LruCache::new(cap),
            bytes: 0,
            max_bytes,
        })
    }

    pub(super) fn get(&mut self, key: &str) -> Option<&V> {
        self.entries.get(key)
    }

    /// Keeps `response`, dropping the least recently used until both bounds hold. An answer
    /// larger than the whole budget is not kept.
    pub(super) fn put(&mut self, key: String, response: V) {
        let size = weight(&key, &response);
        if size > self.max_bytes {
            return;
        }
        if let Some((old_key, old)) = self.entries.push(key, response) {
            // `push` hands back the entry it replaced or evicted.
            self.bytes -= weight(&old_key, &old).min(self.bytes);
        }
        self.bytes += size;
        while self.bytes > self.max_bytes {
            match self.entries.pop_lru() {
                Some((k, v)) => self.bytes -= weight(&k, &v).min(self.bytes),
                None => break,
            }
        }
    }

    pub(super) fn capacity(&self) -> (usize, usize) {
        (self.entries.cap().get(), self.max_bytes)
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.entries.len()
    }
}

fn weight(key: &str, value: &impl Weight) -> usize {
    ENTRY_OVERHEAD + key.len() + value.weight()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lm::{Choice, Usage};

    fn answer(text: &str) -> LmResponse {
        LmResponse {
            choices: vec![Choice::new(text)],
            usage: Usage::default(),
            model: "m".into(),
            cached: false,
        }
    }

    #[test]
    fn bytes_bound_the_store_as_well_as_entries() {
        let long = "x".repeat(10_000);
        let mut memory = Memory::new(1_000, 35_000).unwrap();
        for i in 0..10 {
            memory.put(format!("k{i}"), answer(&long));
        }
        // Three answers of ~10 kB fit in 35 kB; the oldest went first.
        assert_eq!(memory.len(), 3);
        assert!(memory.get("k9").is_some() && memory.get("k6").is_none());
        assert!(memory.bytes <= 35_000);
        // Short answers: the entry bound holds too.
        let mut memory = Memory::new(2, 1 << 20).unwrap();
        for i in 0..5 {
            memory.put(format!("k{i}"), answer("4"));
        }
        assert_eq!(memory.len(), 2);
        // Replacing an entry does not count it twice.
        let mut memory = Memory::new(10, 25_000).unwrap();
        for _ in 0..5 {
            memory.put("same".into(), answer(&long));
        }
        assert_eq!(memory.len(), 1);
        assert_eq!(memory.bytes, weight("same", &answer(&long)));
        // Larger than the whole budget: not kept, nothing evicted.
        memory.put("huge".into(), answer(&"y".repeat(30_000)));
        assert!(memory.get("huge").is_none() && memory.get("same").is_some());
        assert!(Memory::<LmResponse>::new(0, 10).is_none());
        assert!(Memory::<LmResponse>::new(10, 0).is_none());
    }

    #[test]
    fn vectors_weigh_their_floats() {
        // 1,000 floats are 4,000 bytes: three fit in 13 kB with their keys.
        let mut memory = Memory::<Vec<f32>>::new(100, 13_000).unwrap();
        for i in 0..5 {
            memory.put(format!("v{i}"), vec![0.5; 1_000]);
        }
        assert_eq!(memory.len(), 3);
        assert!(memory.get("v4").is_some() && memory.get("v1").is_none());
    }
}

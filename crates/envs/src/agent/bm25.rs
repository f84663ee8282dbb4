//! Okapi BM25 over a fixed document set (MiniShop's search, SearchQA's retriever).
//!
//! Written here rather than taken from a crate (agent-envs.md, "Crates"): about a hundred lines,
//! and its tokenizer and tie-breaking are part of the environments' golden observations, which
//! no crate update may move.
use std::collections::HashMap;

/// `k1` and `b` of agent-envs.md.
pub const K1: f64 = 1.2;
pub const B: f64 = 0.75;

/// Lower-cases and splits on every non-alphanumeric character.
pub fn tokenize(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(|w| w.to_ascii_lowercase())
        .collect()
}

/// An inverted index: term -> (document, term frequency), in document order.
#[derive(Debug, Clone)]
pub struct Bm25 {
    postings: HashMap<String, Vec<(usize, u32)>>,
    doc_lens: Vec<f64>,
    avg_len: f64,
}

impl Bm25 {
    pub fn new<S: AsRef<str>>(docs: &[S]) -> Self {
        let mut postings: HashMap<String, Vec<(usize, u32)>> = HashMap::new();
        let mut doc_lens = Vec::with_capacity(docs.len());
        for (d, doc) in docs.iter().enumerate() {
            let words = tokenize(doc.as_ref());
            doc_lens.push(words.len() as f64);
            let mut tf: HashMap<String, u32> = HashMap::new();
            for w in words {
                *tf.entry(w).or_default() += 1;
            }
            for (w, n) in tf {
                postings.entry(w).or_default().push((d, n));
            }
        }
        for list in postings.values_mut() {
            list.sort_unstable();
        }
        let avg_len = doc_lens.iter().sum::<f64>() / doc_lens.len().max(1) as f64;
        Bm25 {
            postings,
            doc_lens,
            avg_len,
        }
    }

    pub fn len(&self) -> usize {
        self.doc_lens.len()
    }

    pub fn is_empty(&self) -> bool {
        self.doc_lens.is_empty()
    }

    /// The BM25 score of every document for `query` (a repeated query term counts once per
    /// occurrence, as in Lucene's classic BM25).
    pub fn scores(&self, query: &str) -> Vec<f64> {
        let n = self.doc_lens.len() as f64;
        let mut scores = vec![0.0; self.doc_lens.len()];
        for term in tokenize(query) {
            let Some(list) = self.postings.get(&term) else {
                continue;
            };
            let df = list.len() as f64;
            let idf = ((n - df + 0.5) / (df + 0.5) + 1.0).ln();
            for &(d, tf) in list {
                let tf = f64::from(tf);
                let norm = K1 * (1.0 - B + B * self.doc_lens[d] / self.avg_len.max(1e-12));
                scores[d] += idf * tf * (K1 + 1.0) / (tf + norm);
            }
        }
        scores
    }

    /// The `k` best documents with a positive score, best first; ties go to the lower index.
    pub fn search(&self, query: &str, k: usize) -> Vec<(usize, f64)> {
        let mut hits: Vec<(usize, f64)> = self
            .scores(query)
            .into_iter()
            .enumerate()
            .filter(|(_, s)| *s > 0.0)
            .collect();
        hits.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        hits.truncate(k);
        hits
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_match_the_formula_by_hand() {
        let docs = ["red cotton shirt", "blue shirt", "red red mug"];
        let index = Bm25::new(&docs);
        // "red": df 2 of 3 -> idf ln((3 - 2 + .5) / (2 + .5) + 1); avg len 8/3.
        let idf = ((3.0f64 - 2.0 + 0.5) / 2.5 + 1.0).ln();
        let avg = 8.0 / 3.0;
        let one = |tf: f64, len: f64| idf * tf * (K1 + 1.0) / (tf + K1 * (1.0 - B + B * len / avg));
        let s = index.scores("RED!");
        assert!((s[0] - one(1.0, 3.0)).abs() < 1e-12);
        assert_eq!(s[1], 0.0);
        assert!((s[2] - one(2.0, 3.0)).abs() < 1e-12);
        assert_eq!(
            index
                .search("red", 5)
                .iter()
                .map(|h| h.0)
                .collect::<Vec<_>>(),
            [2, 0]
        );
    }

    #[test]
    fn ties_break_by_document_order_and_unknown_terms_find_nothing() {
        let index = Bm25::new(&["a b", "a b"]);
        assert_eq!(index.search("b", 1)[0].0, 0);
        assert!(index.search("zzz", 3).is_empty());
        assert_eq!(tokenize("Hello, World-2!"), ["hello", "world", "2"]);
    }
}

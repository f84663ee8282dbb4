//! MiniShop's catalog (agent-envs.md E2, "Catalog generation"): the category table with its
//! attribute pools, the colours and sizes, generated brands, and the products with their BM25
//! index. Built once per config from `catalog_seed`.
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::agent::bm25::Bm25;
use crate::text::draw::{below, between, shuffle};

/// A product category of the spec's list, with its attribute pool.
struct CategorySpec {
    name: &'static str,
    sized: bool,
    attrs: [&'static str; 10],
}

/// The spec's 12 categories. Attribute words avoid the instruction's own words (`i need a in
/// size and price lower than dollars`), colours and sizes, so that BM25 ranks by category and
/// attributes only.
#[rustfmt::skip]
const CATEGORIES: [CategorySpec; 12] = [
    CategorySpec { name: "t-shirt", sized: true, attrs: [
        "cotton", "slim fit", "machine wash", "short sleeve", "long sleeve", "crew neck",
        "v-neck", "breathable", "quick dry", "organic"
    ] },
    CategorySpec { name: "hoodie", sized: true, attrs: [
        "fleece", "zip up", "pullover", "cotton", "machine wash", "relaxed fit",
        "kangaroo pocket", "lightweight", "heavyweight", "drawstring"
    ] },
    CategorySpec { name: "jeans", sized: true, attrs: [
        "slim fit", "straight leg", "stretch", "high waist", "relaxed fit", "distressed",
        "button fly", "machine wash", "bootcut", "dark wash"
    ] },
    CategorySpec { name: "sneakers", sized: true, attrs: [
        "lightweight", "breathable", "non-slip", "memory foam", "lace up", "slip on", "running",
        "mesh", "cushioned", "leather"
    ] },
    CategorySpec { name: "boots", sized: true, attrs: [
        "waterproof", "leather", "steel toe", "insulated", "non-slip", "ankle high", "lace up",
        "side zip", "winter", "hiking"
    ] },
    CategorySpec { name: "backpack", sized: false, attrs: [
        "waterproof", "laptop sleeve", "lightweight", "anti-theft", "usb charging",
        "large capacity", "padded straps", "travel", "hiking", "school"
    ] },
    CategorySpec { name: "mug", sized: false, attrs: [
        "ceramic", "stainless steel", "insulated", "microwave safe", "dishwasher safe", "large",
        "with lid", "travel", "handmade", "double wall"
    ] },
    CategorySpec { name: "lamp", sized: false, attrs: [
        "led", "dimmable", "touch control", "usb charging", "adjustable", "desk", "bedside",
        "energy saving", "remote control", "modern"
    ] },
    CategorySpec { name: "pillow", sized: false, attrs: [
        "memory foam", "hypoallergenic", "cooling", "machine wash", "down alternative", "firm",
        "soft", "orthopedic", "bamboo", "washable cover"
    ] },
    CategorySpec { name: "headphones", sized: false, attrs: [
        "wireless", "noise cancelling", "bluetooth", "over ear", "foldable", "long battery",
        "with mic", "gaming", "lightweight", "hi-fi"
    ] },
    CategorySpec { name: "watch", sized: false, attrs: [
        "waterproof", "stainless steel", "leather strap", "digital", "analog", "smart", "quartz",
        "sport", "luminous", "automatic"
    ] },
    CategorySpec { name: "water bottle", sized: false, attrs: [
        "insulated", "stainless steel", "bpa free", "leak proof", "wide mouth", "straw lid",
        "lightweight", "reusable", "glass", "sport"
    ] },
];

/// The spec's 10 colours and 5 sizes, in the order item pages list them.
#[rustfmt::skip]
pub const COLORS: [&str; 10] = [
    "black", "white", "red", "blue", "green", "gray", "navy", "pink", "brown", "beige",
];
pub const SIZES: [&str; 5] = ["xs", "s", "m", "l", "xl"];

/// Brand names are two syllables, one from each list (`zorex`, `velora`, ...).
#[rustfmt::skip]
const BRAND_HEADS: [&str; 12] = [
    "zor", "vel", "kin", "mar", "tal", "bri", "lum", "dax", "nor", "qui", "fen", "ral",
];
const BRAND_TAILS: [&str; 8] = ["ex", "ora", "ik", "on", "ia", "us", "al", "ix"];
const BRANDS: usize = 40;

/// One catalog item. `id` is what the agent clicks (`p{index}`).
#[derive(Debug, Clone, PartialEq)]
pub struct Product {
    pub id: String,
    pub brand: String,
    pub title: String,
    pub category: &'static str,
    pub attrs: Vec<&'static str>,
    pub colors: Vec<&'static str>,
    /// Empty for categories without sizes.
    pub sizes: Vec<&'static str>,
    pub price_cents: u32,
}

/// The catalog and its index: per config, shared.
#[derive(Debug)]
pub(super) struct Catalog {
    pub(super) products: Vec<Product>,
    pub(super) index: Bm25,
}

impl Catalog {
    /// Draw order: the 40 brands, then per product category, attributes (shuffled pool, first
    /// 2–4), colours and sizes (likewise, listed in canonical order), price, brand.
    pub(super) fn generate(seed: u64, n: usize) -> Catalog {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut brands: Vec<String> = Vec::with_capacity(BRANDS);
        while brands.len() < BRANDS {
            let head = BRAND_HEADS[below(&mut rng, BRAND_HEADS.len() as u64) as usize];
            let tail = BRAND_TAILS[below(&mut rng, BRAND_TAILS.len() as u64) as usize];
            let name = format!("{head}{tail}");
            if !brands.contains(&name) {
                brands.push(name);
            }
        }
        let products: Vec<Product> = (0..n)
            .map(|i| {
                let spec = &CATEGORIES[below(&mut rng, CATEGORIES.len() as u64) as usize];
                let attrs = pick_some(&mut rng, &spec.attrs, false);
                let colors = pick_some(&mut rng, &COLORS, true);
                let sizes = if spec.sized {
                    pick_some(&mut rng, &SIZES, true)
                } else {
                    Vec::new()
                };
                let price_cents = between(&mut rng, 500, 12_000) as u32;
                let brand = brands[below(&mut rng, BRANDS as u64) as usize].clone();
                let title = format!("{brand} {} {} {}", attrs[0], attrs[1], spec.name);
                Product {
                    id: format!("p{i}"),
                    brand,
                    title,
                    category: spec.name,
                    attrs,
                    colors,
                    sizes,
                    price_cents,
                }
            })
            .collect();
        let docs: Vec<String> = products
            .iter()
            .map(|p| format!("{} {}", p.title, p.attrs.join(" ")))
            .collect();
        Catalog {
            index: Bm25::new(&docs),
            products,
        }
    }
}

/// 2–4 distinct items of `pool`, in drawn order or, with `canonical`, in pool order.
fn pick_some(rng: &mut ChaCha8Rng, pool: &[&'static str], canonical: bool) -> Vec<&'static str> {
    let k = between(rng, 2, 4) as usize;
    let mut order: Vec<usize> = (0..pool.len()).collect();
    shuffle(rng, &mut order);
    order.truncate(k);
    if canonical {
        order.sort_unstable();
    }
    order.into_iter().map(|i| pool[i]).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agent::bm25::tokenize;

    #[test]
    fn attribute_words_stay_out_of_the_instruction_template() {
        let template = "i need a in size and price lower than dollars";
        let reserved: Vec<String> = tokenize(template)
            .into_iter()
            .chain(COLORS.iter().chain(&SIZES).map(|s| s.to_string()))
            .collect();
        for spec in &CATEGORIES {
            for attr in spec.attrs {
                for word in tokenize(attr) {
                    assert!(!reserved.contains(&word), "{attr}");
                }
            }
        }
    }
}

//! SearchQA's knowledge base and corpus, built once per config (agent-envs.md, E3 "KB
//! generation", "Corpus"): fictional entities with names from a syllable generator, their facts,
//! one document per entity, near-duplicate distractor documents, and the BM25 index. Nothing
//! here depends on an instance seed.
//!
//! Draw order from `ChaCha8Rng::seed_from_u64(kb_seed)`, all through [`crate::text::draw`]:
//! names (persons, cities, countries, companies, universities), then the facts of each kind in
//! the same order, then the distractors, then the shuffle of the document order.
use std::collections::HashSet;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::Config;
use crate::agent::bm25::{tokenize, Bm25};
use crate::text::draw::{below, between, shuffle};

/// The corpus with its index, and the facts the question templates read (document ids are
/// final, after the shuffle).
#[derive(Debug)]
pub(super) struct Kb {
    pub docs: Vec<Doc>,
    pub index: Bm25,
    pub persons: Vec<Person>,
    pub cities: Vec<City>,
    pub country_names: Vec<String>,
    pub companies: Vec<Company>,
    /// Company documents, distractors included, per headquarters city.
    pub hq_count: Vec<usize>,
    /// Company documents, distractors included, per founder.
    pub founded_count: Vec<usize>,
}

#[derive(Debug)]
pub(super) struct Person {
    pub name: String,
    pub doc: usize,
    /// City index.
    pub born: usize,
}

#[derive(Debug)]
pub(super) struct City {
    pub name: String,
    pub doc: usize,
    /// Country index.
    pub country: usize,
}

#[derive(Debug)]
pub(super) struct Company {
    pub name: String,
    pub doc: usize,
    /// Person index.
    pub founder: usize,
    pub year: u64,
    /// City index.
    pub hq: usize,
}

/// What a document is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EntityKind {
    Person,
    City,
    Country,
    Company,
    University,
}

/// One document of the corpus: its title is the entity's name.
#[derive(Debug, Clone, PartialEq)]
pub struct Doc {
    pub title: String,
    pub text: String,
    pub kind: EntityKind,
    /// A near-duplicate of a real entity's name with invented facts.
    pub distractor: bool,
}

const OCCUPATIONS: [&str; 12] = [
    "chemist", "painter", "teacher", "doctor", "writer", "pilot", "farmer", "lawyer", "banker",
    "singer", "sailor", "poet",
];
const CITY_SITES: [&str; 6] = [
    "on a river",
    "on the coast",
    "in the hills",
    "on a plain",
    "near a lake",
    "in a valley",
];
const FIELDS: [&str; 8] = [
    "law",
    "medicine",
    "physics",
    "music",
    "history",
    "art",
    "biology",
    "economics",
];
/// Words of the templates, prompt and questions: no generated name may equal one, so that a
/// name query never matches template text.
const TEMPLATE_WORDS: &str = "is a an the born in studied at city it capital of lies country \
    with cities its company founded by headquarters are university teaches and where was which \
    who is earlier or answer question search query text information at most times then use \
    invalid action limit reached no results episode over";

const ONSETS: [&str; 19] = [
    "b", "d", "f", "g", "k", "l", "m", "n", "p", "r", "s", "t", "v", "z", "br", "dr", "kr", "tr",
    "st",
];
const VOWELS: [char; 5] = ['a', 'e', 'i', 'o', 'u'];
const CODAS: [&str; 8] = ["", "", "", "", "n", "r", "l", "s"];

/// Unique pronounceable words from a syllable generator.
struct Namer {
    used: HashSet<String>,
}

impl Namer {
    fn new() -> Self {
        let mut used: HashSet<String> = tokenize(TEMPLATE_WORDS).into_iter().collect();
        for list in [&OCCUPATIONS[..], &CITY_SITES[..], &FIELDS[..]] {
            used.extend(list.iter().flat_map(|s| tokenize(s)));
        }
        Namer { used }
    }

    /// A fresh capitalised word of 2 syllables, 3 one time in four (longer once the short ones
    /// run out): short names keep episodes within a small model's context.
    fn word(&mut self, rng: &mut ChaCha8Rng) -> String {
        let mut fewest = 2;
        for attempt in 1u64.. {
            let n = fewest + u64::from(below(rng, 4) == 0);
            let mut w = String::new();
            for _ in 0..n {
                w.push_str(ONSETS[below(rng, ONSETS.len() as u64) as usize]);
                w.push(VOWELS[below(rng, VOWELS.len() as u64) as usize]);
                w.push_str(CODAS[below(rng, CODAS.len() as u64) as usize]);
            }
            if self.used.insert(w.clone()) {
                return capitalise(&w);
            }
            if attempt % 64 == 0 {
                fewest += 1;
            }
        }
        unreachable!("1u64.. does not end")
    }

    /// `word` with one vowel changed (`Dunn` -> `Dann`), or `None` when a few tries find only
    /// words already in use.
    fn near_duplicate(&mut self, rng: &mut ChaCha8Rng, word: &str) -> Option<String> {
        let lower = word.to_ascii_lowercase();
        let vowels: Vec<usize> = lower
            .char_indices()
            .filter(|(_, c)| VOWELS.contains(c))
            .map(|(i, _)| i)
            .collect();
        if vowels.is_empty() {
            return None;
        }
        for _ in 0..16 {
            let at = vowels[below(rng, vowels.len() as u64) as usize];
            let old = lower.as_bytes()[at] as char;
            let others: Vec<char> = VOWELS.iter().copied().filter(|&v| v != old).collect();
            let new = others[below(rng, others.len() as u64) as usize];
            let mut candidate = lower.clone();
            candidate.replace_range(at..at + 1, &new.to_string());
            if self.used.insert(candidate.clone()) {
                return Some(capitalise(&candidate));
            }
        }
        None
    }
}

fn capitalise(w: &str) -> String {
    let mut chars = w.chars();
    match chars.next() {
        Some(first) => first.to_ascii_uppercase().to_string() + chars.as_str(),
        None => String::new(),
    }
}

fn person_doc(first: &str, last: &str, occupation: usize, city: &str, univ: &str) -> Doc {
    Doc {
        title: format!("{first} {last}"),
        text: format!(
            "{first} {last} is a {} born in {city}. {last} studied at {univ}.",
            OCCUPATIONS[occupation]
        ),
        kind: EntityKind::Person,
        distractor: false,
    }
}

fn city_doc(name: &str, country: &str, capital: bool, site: usize) -> Doc {
    let capital = if capital {
        format!(" It is the capital of {country}.")
    } else {
        String::new()
    };
    Doc {
        title: name.to_string(),
        text: format!(
            "{name} is a city in {country}.{capital} It lies {}.",
            CITY_SITES[site]
        ),
        kind: EntityKind::City,
        distractor: false,
    }
}

fn company_doc(name: &str, year: u64, founder: &str, city: &str) -> Doc {
    Doc {
        title: name.to_string(),
        text: format!(
            "{name} is a company founded in {year} by {founder}. Its headquarters are in {city}."
        ),
        kind: EntityKind::Company,
        distractor: false,
    }
}

fn university_doc(name: &str, city: &str, fields: (usize, usize)) -> Doc {
    Doc {
        title: name.to_string(),
        text: format!(
            "{name} is a university in {city}. It teaches {} and {}.",
            FIELDS[fields.0], FIELDS[fields.1]
        ),
        kind: EntityKind::University,
        distractor: false,
    }
}

fn two_fields(rng: &mut ChaCha8Rng) -> (usize, usize) {
    let a = below(rng, FIELDS.len() as u64) as usize;
    let b = (a + 1 + below(rng, FIELDS.len() as u64 - 1) as usize) % FIELDS.len();
    (a, b)
}

fn pick(rng: &mut ChaCha8Rng, n: usize) -> usize {
    below(rng, n as u64) as usize
}

/// Builds the knowledge base and corpus of `c` (validated).
pub(super) fn build(c: &Config) -> Kb {
    let mut rng = ChaCha8Rng::seed_from_u64(c.kb_seed);
    let rng = &mut rng;
    let mut namer = Namer::new();

    let person_names: Vec<(String, String)> = (0..c.persons)
        .map(|_| (namer.word(rng), namer.word(rng)))
        .collect();
    let city_names: Vec<String> = (0..c.cities).map(|_| namer.word(rng)).collect();
    let country_names: Vec<String> = (0..c.countries).map(|_| namer.word(rng)).collect();
    let company_names: Vec<String> = (0..c.companies).map(|_| namer.word(rng)).collect();
    // The first word alone is what a near-duplicate changes.
    let univ_words: Vec<String> = (0..c.universities).map(|_| namer.word(rng)).collect();
    let univ_name = |w: &str| format!("{w} University");

    // Facts. Cities: the first `countries` cities give every country one city, so that every
    // country has a capital located in it.
    let city_country: Vec<usize> = (0..c.cities)
        .map(|i| {
            if i < c.countries {
                i
            } else {
                pick(rng, c.countries)
            }
        })
        .collect();
    let city_site: Vec<usize> = (0..c.cities).map(|_| pick(rng, CITY_SITES.len())).collect();
    let cities_of: Vec<Vec<usize>> = (0..c.countries)
        .map(|k| (0..c.cities).filter(|&i| city_country[i] == k).collect())
        .collect();
    let capital: Vec<usize> = cities_of
        .iter()
        .map(|cities| cities[pick(rng, cities.len())])
        .collect();
    let person_facts: Vec<(usize, usize, usize)> = (0..c.persons)
        .map(|_| {
            let occupation = pick(rng, OCCUPATIONS.len());
            let born = pick(rng, c.cities);
            (occupation, born, pick(rng, c.universities))
        })
        .collect();
    // Founders are distinct persons while persons last (a shuffled roster), so that most
    // founders founded one company and the 3-hop question about them is unambiguous.
    let mut founders: Vec<usize> = (0..c.persons).collect();
    shuffle(rng, &mut founders);
    let company_facts: Vec<(usize, u64, usize)> = (0..c.companies)
        .map(|i| {
            let founder = founders[i % c.persons];
            let year = between(rng, 1900, 2020);
            (founder, year, pick(rng, c.cities))
        })
        .collect();
    let univ_facts: Vec<(usize, (usize, usize))> = (0..c.universities)
        .map(|_| (pick(rng, c.cities), two_fields(rng)))
        .collect();

    // Real documents, in kind order; entity i of a kind sits at `base + i` until the shuffle.
    let mut docs: Vec<Doc> = Vec::new();
    for ((first, last), &(occupation, born, univ)) in person_names.iter().zip(&person_facts) {
        docs.push(person_doc(
            first,
            last,
            occupation,
            &city_names[born],
            &univ_name(&univ_words[univ]),
        ));
    }
    let city_base = docs.len();
    for i in 0..c.cities {
        let country = city_country[i];
        docs.push(city_doc(
            &city_names[i],
            &country_names[country],
            capital[country] == i,
            city_site[i],
        ));
    }
    for (k, name) in country_names.iter().enumerate() {
        let n = cities_of[k].len();
        let plural = if n == 1 { "city" } else { "cities" };
        docs.push(Doc {
            title: name.clone(),
            text: format!(
                "{name} is a country with {n} {plural}. Its capital is {}.",
                city_names[capital[k]]
            ),
            kind: EntityKind::Country,
            distractor: false,
        });
    }
    let company_base = docs.len();
    for (name, &(founder, year, hq)) in company_names.iter().zip(&company_facts) {
        let (first, last) = &person_names[founder];
        docs.push(company_doc(
            name,
            year,
            &format!("{first} {last}"),
            &city_names[hq],
        ));
    }
    for (word, &(city, fields)) in univ_words.iter().zip(&univ_facts) {
        docs.push(university_doc(&univ_name(word), &city_names[city], fields));
    }
    let real = docs.len();

    // Distractors: a near-duplicate name of a real person, city, company or university with
    // facts drawn afresh. Companies count towards the uniqueness the questions rely on.
    let mut hq_count = vec![0usize; c.cities];
    let mut founded_count = vec![0usize; c.persons];
    for &(founder, _, hq) in &company_facts {
        hq_count[hq] += 1;
        founded_count[founder] += 1;
    }
    let wanted = (c.distractor_frac * real as f64).round() as usize;
    let candidates = c.persons + c.cities + c.companies + c.universities;
    let mut made = 0;
    for _ in 0..wanted * 20 {
        if made == wanted {
            break;
        }
        let e = pick(rng, candidates);
        let (kind, i) = if e < c.persons {
            (EntityKind::Person, e)
        } else if e < c.persons + c.cities {
            (EntityKind::City, e - c.persons)
        } else if e < c.persons + c.cities + c.companies {
            (EntityKind::Company, e - c.persons - c.cities)
        } else {
            (
                EntityKind::University,
                e - c.persons - c.cities - c.companies,
            )
        };
        let doc = match kind {
            EntityKind::Person => {
                let (first, last) = &person_names[i];
                namer.near_duplicate(rng, last).map(|last| {
                    let occupation = pick(rng, OCCUPATIONS.len());
                    let born = pick(rng, c.cities);
                    let univ = pick(rng, c.universities);
                    person_doc(
                        first,
                        &last,
                        occupation,
                        &city_names[born],
                        &univ_name(&univ_words[univ]),
                    )
                })
            }
            EntityKind::City => namer.near_duplicate(rng, &city_names[i]).map(|name| {
                let country = pick(rng, c.countries);
                let site = pick(rng, CITY_SITES.len());
                city_doc(&name, &country_names[country], false, site)
            }),
            EntityKind::Company => namer.near_duplicate(rng, &company_names[i]).map(|name| {
                // A person who founded nothing, where one is left: a distractor then takes
                // no 3-hop question away.
                let idle: Vec<usize> = (0..c.persons).filter(|&p| founded_count[p] == 0).collect();
                let founder = if idle.is_empty() {
                    pick(rng, c.persons)
                } else {
                    idle[pick(rng, idle.len())]
                };
                let year = between(rng, 1900, 2020);
                let hq = pick(rng, c.cities);
                founded_count[founder] += 1;
                hq_count[hq] += 1;
                let (first, last) = &person_names[founder];
                company_doc(&name, year, &format!("{first} {last}"), &city_names[hq])
            }),
            // Countries are never picked: a near-duplicate country would need a capital, and
            // any real city named as one would contradict that city's own document.
            EntityKind::University | EntityKind::Country => {
                namer.near_duplicate(rng, &univ_words[i]).map(|word| {
                    let city = pick(rng, c.cities);
                    let fields = two_fields(rng);
                    university_doc(&univ_name(&word), &city_names[city], fields)
                })
            }
        };
        if let Some(doc) = doc {
            docs.push(Doc {
                distractor: true,
                ..doc
            });
            made += 1;
        }
    }

    // Shuffle the document order so that BM25's ties (to the lower index) favour no kind and
    // do not always put distractors last.
    let mut order: Vec<usize> = (0..docs.len()).collect();
    shuffle(rng, &mut order);
    let mut position = vec![0usize; docs.len()];
    for (new, &old) in order.iter().enumerate() {
        position[old] = new;
    }
    let mut slots: Vec<Option<Doc>> = docs.into_iter().map(Some).collect();
    let docs: Vec<Doc> = order.iter().filter_map(|&old| slots[old].take()).collect();

    let index = Bm25::new(
        &docs
            .iter()
            .map(|d| format!("{} {}", d.title, d.text))
            .collect::<Vec<_>>(),
    );

    Kb {
        docs,
        index,
        persons: person_names
            .iter()
            .zip(&person_facts)
            .enumerate()
            .map(|(i, ((first, last), &(_, born, _)))| Person {
                name: format!("{first} {last}"),
                doc: position[i],
                born,
            })
            .collect(),
        cities: city_names
            .into_iter()
            .zip(city_country)
            .enumerate()
            .map(|(i, (name, country))| City {
                name,
                doc: position[city_base + i],
                country,
            })
            .collect(),
        country_names,
        companies: company_names
            .into_iter()
            .zip(company_facts)
            .enumerate()
            .map(|(i, (name, (founder, year, hq)))| Company {
                name,
                doc: position[company_base + i],
                founder,
                year,
                hq,
            })
            .collect(),
        hq_count,
        founded_count,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_fresh_and_avoid_template_words() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let mut namer = Namer::new();
        let words: Vec<String> = (0..2000).map(|_| namer.word(&mut rng)).collect();
        let distinct: HashSet<&String> = words.iter().collect();
        assert_eq!(distinct.len(), words.len());
        let template: HashSet<String> = tokenize(TEMPLATE_WORDS).into_iter().collect();
        for w in &words {
            assert!(
                w.len() >= 4 && w.chars().all(|c| c.is_ascii_alphabetic()),
                "{w}"
            );
            assert!(w.chars().next().is_some_and(|c| c.is_ascii_uppercase()));
            assert!(!template.contains(&w.to_lowercase()), "{w}");
        }
    }

    #[test]
    fn a_near_duplicate_changes_exactly_one_vowel() {
        let mut rng = ChaCha8Rng::seed_from_u64(4);
        let mut namer = Namer::new();
        for _ in 0..200 {
            let w = namer.word(&mut rng);
            let Some(d) = namer.near_duplicate(&mut rng, &w) else {
                continue;
            };
            assert_eq!(d.len(), w.len());
            let diffs: Vec<(char, char)> = w
                .to_lowercase()
                .chars()
                .zip(d.to_lowercase().chars())
                .filter(|(a, b)| a != b)
                .collect();
            assert_eq!(diffs.len(), 1, "{w} {d}");
            assert!(VOWELS.contains(&diffs[0].0) && VOWELS.contains(&diffs[0].1));
        }
    }
}

//! The Visual Genome phrase database, built exactly as the original's `encode_captions.py`
//! (`docs/reference.md`, step 2), including its shared-set quirk.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use serde::Deserialize;

use crate::Result;
use crate::json::for_each_element;

#[derive(Deserialize)]
struct AttributesImage {
    #[serde(default)]
    attributes: Option<Vec<AttributeRecord>>,
}

#[derive(Deserialize)]
struct AttributeRecord {
    #[serde(default)]
    synsets: Option<Vec<String>>,
    #[serde(default)]
    attributes: Option<Vec<String>>,
}

#[derive(Deserialize)]
struct RelationshipsImage {
    #[serde(default)]
    relationships: Option<Vec<RelationshipRecord>>,
}

#[derive(Deserialize)]
struct RelationshipRecord {
    #[serde(default)]
    predicate: String,
    #[serde(default)]
    subject: Option<RelObject>,
    #[serde(default)]
    object: Option<RelObject>,
}

#[derive(Deserialize)]
struct RelObject {
    #[serde(default)]
    synsets: Option<Vec<String>>,
}

/// Python's `str.isspace`: Unicode White_Space plus U+001C..U+001F, which Python also strips.
fn is_python_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// The original's `word`: lower-case, strip surrounding whitespace (Python's definition), then
/// delete the control characters U+0000..U+001F.
pub fn word(s: &str) -> String {
    s.to_lowercase()
        .trim_matches(is_python_space)
        .chars()
        .filter(|c| !('\0'..='\u{1f}').contains(c))
        .collect()
}

/// The original's `synset`: [`word`] up to the first `.` (`"dog.n.01"` -> `"dog"`).
pub fn synset(s: &str) -> String {
    let mut w = word(s);
    if let Some(i) = w.find('.') {
        w.truncate(i);
    }
    w
}

fn synset_set(synsets: Option<Vec<String>>) -> HashSet<String> {
    synsets.unwrap_or_default().iter().map(|s| synset(s)).collect()
}

/// Objects and their attribute sets, with the original's aliasing: the new names of one record
/// share one set object, so a later `|=` on any of them shows up in all.
#[derive(Default)]
struct Objects {
    set_of: HashMap<String, usize>,
    sets: Vec<HashSet<String>>,
}

impl Objects {
    fn add(&mut self, names: HashSet<String>, attrs: HashSet<String>) {
        let mut shared: Option<usize> = None;
        for name in names {
            match self.set_of.get(&name) {
                Some(&i) => self.sets[i].extend(attrs.iter().cloned()), // objs[name] |= attrs
                None => {
                    // objs[name] = attrs: the record's one set object
                    let i = *shared.get_or_insert_with(|| {
                        self.sets.push(attrs.clone());
                        self.sets.len() - 1
                    });
                    self.set_of.insert(name, i);
                }
            }
        }
    }
}

/// The sorted, unique phrase list of the original: `"{attr} {object}"` from `attributes.json`
/// and `"{subject} {predicate} {object}"` from `relationships.json`, both streamed.
pub fn phrase_database(attributes: &Path, relationships: &Path) -> Result<Vec<String>> {
    let mut objects = Objects::default();
    let mut records = 0usize;
    for_each_element(attributes, |image: AttributesImage| {
        for a in image.attributes.unwrap_or_default() {
            records += 1;
            let names = synset_set(a.synsets);
            let attrs: HashSet<String> =
                a.attributes.unwrap_or_default().iter().map(|s| word(s)).collect();
            objects.add(names, attrs);
        }
    })?;
    let mut phrases: HashSet<String> = HashSet::new();
    for (name, &i) in &objects.set_of {
        for attr in objects.sets[i].iter().filter(|a| !a.is_empty()) {
            phrases.insert(format!("{attr} {name}"));
        }
    }
    drop(objects);
    tracing::debug!(records, phrases = phrases.len(), "attributes read");
    for_each_element(relationships, |image: RelationshipsImage| {
        for r in image.relationships.unwrap_or_default() {
            let p = word(&r.predicate);
            let subjects = synset_set(r.subject.and_then(|o| o.synsets));
            let objects = synset_set(r.object.and_then(|o| o.synsets));
            for s in &subjects {
                for o in &objects {
                    phrases.insert(format!("{s} {p} {o}"));
                }
            }
        }
    })?;
    let mut out: Vec<String> = phrases.into_iter().collect();
    out.sort_unstable();
    tracing::info!(phrases = out.len(), "phrase database built");
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_and_synsets_as_python() {
        assert_eq!(word("  White\t"), "white");
        assert_eq!(word("\u{1f}Dog\u{1c}"), "dog"); // Python strips U+001C..U+001F
        assert_eq!(word("a\u{7}b"), "ab");
        assert_eq!(word("\u{a0}Café "), "café");
        assert_eq!(synset("Dog.n.01"), "dog");
        assert_eq!(synset("no_dot"), "no_dot");
    }

    #[test]
    fn new_names_of_a_record_share_one_set() {
        let mut o = Objects::default();
        let set = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<HashSet<_>>();
        o.add(set(&["dog", "animal"]), set(&["white"]));
        o.add(set(&["dog"]), set(&["small"])); // objs["dog"] |= {"small"}: "animal" sees it too
        let animal = &o.sets[o.set_of["animal"]];
        assert!(animal.contains("small") && animal.contains("white"));
        o.add(set(&["cat"]), set(&[]));
        assert!(o.sets[o.set_of["cat"]].is_empty());
    }
}

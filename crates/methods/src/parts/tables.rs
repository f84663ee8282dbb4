//! Where parts meet the config: the settings tables of a section ([`PartTables`], flattened
//! next to the slots), and the [`MethodConfig`] side of the registry: which parts are on, build
//! them, check every table, and fill in defaults for the saved config.
use std::collections::BTreeMap;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::{to_table, BuiltPart, PartEntry, PartInput, PartKind, PARTS};
use crate::config::MethodConfig;
use crate::error::MethodError;

/// The settings tables of one config section, by table name (`method.credit.adora`, ...).
/// Flattened into the section, so a table sits next to the slot that selects its part.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PartTables(pub BTreeMap<String, toml::Value>);

impl PartTables {
    /// Sets `key` in table `table` (presets and tests); creates the table when absent.
    pub fn set(&mut self, table: &str, key: &str, value: impl Into<toml::Value>) {
        let entry = self
            .0
            .entry(table.to_string())
            .or_insert_with(|| toml::Value::Table(Default::default()));
        if !entry.is_table() {
            *entry = toml::Value::Table(Default::default());
        }
        if let toml::Value::Table(t) = entry {
            t.insert(key.to_string(), value.into());
        }
    }

    /// Replaces table `table` by `settings` serialized.
    pub fn put<T: Serialize>(&mut self, table: &str, settings: &T) -> Result<(), MethodError> {
        self.0.insert(table.to_string(), to_table(settings, table)?);
        Ok(())
    }

    /// Drops table `table` (its part then runs with its defaults).
    pub fn remove(&mut self, table: &str) -> Option<toml::Value> {
        self.0.remove(table)
    }

    pub fn get(&self, table: &str) -> Option<&toml::Value> {
        self.0.get(table)
    }
}

impl MethodConfig {
    /// The slot value of `kind` (`"none"` / `"constant"` when off).
    pub fn slot(&self, kind: PartKind) -> &str {
        match kind {
            PartKind::Judge => &self.credit.judge,
            PartKind::Replay => &self.select.replay,
            PartKind::Shaping => &self.credit.shaping,
            PartKind::Reweight => &self.credit.reweight,
            PartKind::Controller => &self.credit.entropy_control,
            PartKind::TrustRegion => &self.objective.trust_region,
            PartKind::GlobalAdvantage => &self.credit.global_advantage,
            PartKind::Selector => &self.select.downsample,
        }
    }

    fn tables(&self, section: &str) -> &PartTables {
        match section {
            "credit" => &self.credit.parts,
            "select" => &self.select.parts,
            _ => &self.objective.parts,
        }
    }

    fn tables_mut(&mut self, section: &str) -> &mut PartTables {
        match section {
            "credit" => &mut self.credit.parts,
            "select" => &mut self.select.parts,
            _ => &mut self.objective.parts,
        }
    }

    /// The entries of the parts this config turns on, in the order a step applies them.
    pub fn enabled_parts(&self) -> Result<Vec<&'static PartEntry>, MethodError> {
        let mut out = Vec::new();
        for kind in PartKind::ALL {
            let name = self.slot(kind);
            if name == kind.off() {
                continue;
            }
            let entry = PARTS
                .iter()
                .find(|e| e.kind == kind && e.name == name)
                .ok_or_else(|| {
                    let known: Vec<&str> = std::iter::once(kind.off())
                        .chain(PARTS.iter().filter(|e| e.kind == kind).map(|e| e.name))
                        .collect();
                    MethodError::Unknown {
                        kind: kind.slot(),
                        name: name.to_string(),
                        known: known.join(", "),
                    }
                })?;
            out.push(entry);
        }
        Ok(out)
    }

    fn part_input(&self, entry: &PartEntry) -> PartInput<'_> {
        let section = entry.kind.section();
        PartInput {
            method: self,
            table: self.tables(section).get(entry.table),
            key: format!("method.{section}.{}", entry.table),
        }
    }

    /// Builds the enabled parts, in application order.
    pub fn build_parts(&self) -> Result<Vec<BuiltPart>, MethodError> {
        self.enabled_parts()?
            .into_iter()
            .map(|e| Ok((e, (e.build)(&self.part_input(e))?)))
            .collect()
    }

    /// The settings of part `name` when it is on, for loop-side code of a part (R³'s replay
    /// extension, SPO's segment rollouts read `method.credit.spo` the same way).
    pub fn part_settings<T: DeserializeOwned + Default>(
        &self,
        name: &str,
    ) -> Result<Option<T>, MethodError> {
        for entry in self.enabled_parts()? {
            if entry.name == name {
                return self.part_input(entry).settings().map(Some);
            }
        }
        Ok(None)
    }

    /// Every settings table belongs to a registered part or estimator, and parses and
    /// range-checks, also when that part is off: a typo is an error, and one `--set` can serve
    /// every preset of a comparison grid (the parts that are off do not read it).
    pub(crate) fn validate_part_tables(&self) -> Result<(), MethodError> {
        for section in ["credit", "select", "objective"] {
            for table in self.tables(section).0.keys() {
                let estimator = crate::credit::ESTIMATORS
                    .iter()
                    .find(|e| section == "credit" && e.table == Some(table.as_str()));
                if let Some(e) = estimator {
                    (e.build)(&self.credit)?;
                    continue;
                }
                let owner = PARTS
                    .iter()
                    .find(|e| e.kind.section() == section && e.table == table);
                match owner {
                    Some(e) => {
                        (e.build)(&self.part_input(e))?;
                    }
                    None => {
                        let mut known: Vec<&str> = PARTS
                            .iter()
                            .filter(|e| e.kind.section() == section)
                            .map(|e| e.table)
                            .collect();
                        if section == "credit" {
                            known.extend(crate::credit::ESTIMATORS.iter().filter_map(|e| e.table));
                        }
                        return Err(MethodError::Settings {
                            key: format!("method.{section}.{table}"),
                            detail: format!(
                                "unknown key: neither a setting of method.{section} nor a settings table (known tables: {})",
                                known.join(", ")
                            ),
                        });
                    }
                }
            }
        }
        Ok(())
    }

    /// The same config with each enabled part's table holding every setting (defaults filled
    /// in), so that the saved config shows what ran.
    pub fn with_resolved_parts(&self) -> Result<MethodConfig, MethodError> {
        let mut out = self.clone();
        for entry in self.enabled_parts()? {
            let table = (entry.resolve)(&self.part_input(entry))?;
            out.tables_mut(entry.kind.section())
                .0
                .insert(entry.table.to_string(), table);
        }
        Ok(out)
    }
}
